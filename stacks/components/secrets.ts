import { createHash } from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import { curvePublicFromSecret } from '../../services/protocol/curve-keys.js';
import { z85Encode } from '../../services/protocol/z85.js';

export interface SecretsArgs {
  /** The bootstrap project's slug: the admin key is `xero_<slug>_<secret>`. */
  readonly bootstrapProject: string;
  /**
   * Every agent the stack runs, by registration name: each gets its own join key. A `keeper`
   * (the image of an EC2 host, which a new image replaces) mints a new key when it changes, so
   * the replacement can enroll: join keys are single-use.
   */
  readonly agents: readonly { readonly role: 'xem' | 'xim'; readonly name: string; readonly keeper?: string }[];
  /**
   * Rotation generations (settings `rotation`): a number above 0 becomes the password's keeper,
   * so bumping it makes a new one on the next `up`.
   * @default {}
   */
  readonly rotation?: Readonly<Partial<Record<RotatedPassword, number>>> & {
    /** The token-signing key's generation (0: the key every stack started with). */
    readonly tokenSigning?: number;
    /** The router's CURVE key generation; `curveNext` also generates n+1, served beside it. */
    readonly curve?: number;
    readonly curveNext?: boolean;
    /** Keep the previous generation's key, for the router to accept while agents move. @default true */
    readonly tokenSigningOverlap?: boolean;
  };
}

export type RotatedPassword = 'databaseApp' | 'databaseOwner' | 'cache';

export interface JoinKey {
  /** What the agent is given (`xjk_…`). */
  readonly key: pulumi.Output<string>;
  /** What the router is given: `role:name:sha256hex` (XEROTIER_BOOTSTRAP_JOIN_KEYS). */
  readonly routerEntry: pulumi.Output<string>;
}

/**
 * Every secret the platform needs, generated once and kept in the stack's state (never by
 * `crypto.randomBytes` at deploy time, which would change them on each `up`), and wrapped as
 * Pulumi secrets explicitly: the engine marks random outputs secret, and so must the program,
 * so nothing derived from them reaches state or logs in the clear. The router gets hashes of the
 * admin and join keys, never the keys.
 */
export class PlatformSecrets extends pulumi.ComponentResource {
  readonly tokenSigningKey: pulumi.Output<string>;
  /** During a rotation, the previous generation's key (XEROTIER_TOKEN_SIGNING_KEY_PREVIOUS). */
  readonly tokenSigningKeyPrevious: pulumi.Output<string> | undefined;
  /** Signs audit-chain checkpoints (XEROTIER_AUDIT_SIGNING_KEY). */
  readonly auditSigningKey: pulumi.Output<string>;
  readonly completionEncryptionKey: pulumi.Output<string>;
  readonly routerCurveSecretKey: pulumi.Output<string>;
  /** During a CURVE rotation, the next generation's key (XEROTIER_ROUTER_CURVE_SECRET_KEY_NEXT). */
  readonly routerCurveSecretKeyNext: pulumi.Output<string> | undefined;
  /** Which generation is current: its parity picks the mesh port (meshPort). */
  readonly curveGeneration: number;
  /** Not secret: agents are told it at enrollment; derived exactly as the services derive it. */
  readonly routerCurvePublicKey: pulumi.Output<string>;
  readonly adminApiKey: pulumi.Output<string>;
  readonly adminApiKeySha256: pulumi.Output<string>;
  readonly ximSaltSecret: pulumi.Output<string>;
  /** The web UI's session secret: sessions in Redis are indexed and sealed under it. */
  readonly uiSessionSecret: pulumi.Output<string>;
  /** The schema owner's password (in-cluster superuser, RDS master user): migrations only. */
  readonly databasePassword: pulumi.Output<string>;
  /** The app role the router connects as (XEROTIER_DATABASE_APP_PASSWORD, set by `migrate`). */
  readonly databaseAppPassword: pulumi.Output<string>;
  readonly cachePassword: pulumi.Output<string>;
  readonly joinKeys: ReadonlyMap<string, JoinKey>;

  constructor(name: string, args: SecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:platform:Secrets', name, {}, opts);
    const child = { parent: this };
    const bytes = (id: string, keeper?: string) =>
      new random.RandomBytes(`${name}-${id}`, { length: 32, ...(keeper ? { keepers: { keeper } } : {}) }, child);
    // Generation 0 keeps the name every stack began with, so adding rotation rotates nothing;
    // generation n is its own resource, and n-1 stays in the stack while the overlap lasts.
    const tokenKey = (generation: number) =>
      pulumi.secret(bytes(generation === 0 ? 'token-signing' : `token-signing-${generation}`).hex);
    const generation = args.rotation?.tokenSigning ?? 0;
    this.tokenSigningKey = tokenKey(generation);
    this.tokenSigningKeyPrevious =
      generation > 0 && (args.rotation?.tokenSigningOverlap ?? true) ? tokenKey(generation - 1) : undefined;
    this.completionEncryptionKey = pulumi.secret(bytes('completion-encryption').hex);
    this.auditSigningKey = pulumi.secret(bytes('audit-signing').hex);
    const curveKey = (generation: number) =>
      pulumi.secret(
        bytes(generation === 0 ? 'router-curve' : `router-curve-${generation}`).base64.apply((b64) =>
          z85Encode(Buffer.from(b64, 'base64')),
        ),
      );
    this.curveGeneration = args.rotation?.curve ?? 0;
    this.routerCurveSecretKey = curveKey(this.curveGeneration);
    this.routerCurveSecretKeyNext = args.rotation?.curveNext ? curveKey(this.curveGeneration + 1) : undefined;
    this.routerCurvePublicKey = pulumi.unsecret(this.routerCurveSecretKey.apply(curvePublicFromSecret));
    const admin = pulumi.secret(bytes('admin-key').base64.apply(base64url));
    this.adminApiKey = pulumi.interpolate`xero_${args.bootstrapProject}_${admin}`;
    this.adminApiKeySha256 = admin.apply(sha256Hex);
    this.ximSaltSecret = pulumi.secret(bytes('xim-salt').hex);
    this.uiSessionSecret = pulumi.secret(bytes('ui-session').hex);
    const password = (id: string, rotation: RotatedPassword) => {
      const generation = args.rotation?.[rotation] ?? 0;
      return pulumi.secret(
        new random.RandomPassword(
          `${name}-${id}`,
          { length: 40, special: false, ...(generation > 0 ? { keepers: { generation: String(generation) } } : {}) },
          child,
        ).result,
      );
    };
    this.databasePassword = password('database-password', 'databaseOwner');
    this.databaseAppPassword = password('database-app-password', 'databaseApp');
    this.cachePassword = password('cache-password', 'cache');
    this.joinKeys = new Map(
      args.agents.map((agent) => {
        const secret = pulumi.secret(bytes(`join-${agent.role}-${agent.name}`, agent.keeper).base64.apply(base64url));
        return [
          `${agent.role}:${agent.name}`,
          {
            key: pulumi.interpolate`xjk_${secret}`,
            routerEntry: secret.apply((value) => `${agent.role}:${agent.name}:${sha256Hex(value)}`),
          },
        ];
      }),
    );
    this.registerOutputs({ routerCurvePublicKey: this.routerCurvePublicKey });
  }

  joinKey(role: 'xem' | 'xim', name: string): JoinKey {
    const found = this.joinKeys.get(`${role}:${name}`);
    if (!found) throw new Error(`no join key was generated for ${role} agent ${name}`);
    return found;
  }

  /** XEROTIER_BOOTSTRAP_JOIN_KEYS: every agent's entry, space-separated. */
  get routerJoinKeyEntries(): pulumi.Output<string> {
    return pulumi
      .all([...this.joinKeys.values()].map((joinKey) => joinKey.routerEntry))
      .apply((entries) => entries.join(' '));
  }
}

function base64url(b64: string): string {
  return Buffer.from(b64, 'base64').toString('base64url');
}

function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
