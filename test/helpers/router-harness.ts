import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { generateCurveKeyPair, type CurveKeyPair } from '../../services/protocol/curve-keys.js';
import { generateSigningKeyPair, type SigningKeyPair } from '../../services/protocol/signing.js';
import { loadConfig } from '../../services/runtime/config/load.js';
import type { Logger } from '../../services/runtime/logger.js';
import { routerConfigSchema } from '../../services/router/config.js';
import type { ExecFrameEvents } from '../../services/router/exec/agent-frames.js';
import type { ExecRuntime } from '../../services/router/exec/exec-runtime.js';
import type { InferenceRuntime } from '../../services/router/inference/runtime.js';
import type { HandshakeBudgetOptions } from '../../services/router/mesh/handshake-budget.js';
import type { Mesh } from '../../services/router/mesh/mesh.js';
import { createRouter, type Router } from '../../services/router/router.js';
import { compileRouterSettings } from '../../services/router/settings.js';
import type { Pool } from '../../services/router/store/pool.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { bearer, seedProject, type SeededProject } from './fixtures.js';
import { silentLogger } from './logger.js';
import { trackOpen } from './open-resources.js';

export interface RouterHarness {
  readonly db: TestDatabase;
  readonly pool: Pool;
  readonly app: FastifyInstance;
  readonly mesh: Mesh;
  readonly url: string;
  readonly routerCurvePublicKey: string;
  readonly project: SeededProject;
  readonly router: Router;
  mintJoinKey(role?: 'xem' | 'xim'): Promise<string>;
  /** Stops the mesh and starts it again on the same endpoint, as a router restart would; whileDown runs in between. */
  restartMesh(whileDown?: () => Promise<void>): Promise<void>;
  /** Enrolls an agent over HTTP with fresh keys, as a real agent would, without running one. */
  enrollPeer(name: string, joinKey?: string): Promise<EnrolledPeer>;
  readonly exec: ExecRuntime;
  readonly inference: InferenceRuntime;
  close(): Promise<void>;
}

export interface EnrolledPeer {
  readonly agentId: string;
  readonly curve: CurveKeyPair;
  readonly signing: SigningKeyPair;
}

export interface RouterHarnessOptions {
  leaseRenewalIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  logger?: Logger;
  handshakeBudget?: HandshakeBudgetOptions;
  scrambleAutoIds?: boolean;
  execEvents?: ExecFrameEvents;
  /** How long agents have to accept a dispatch. @default 30000 */
  dispatchTtlMs?: number;
  /** Another router on the same database (two-router tests); a fresh database when unset. */
  database?: TestDatabase;
  /** XEROTIER_WEBHOOKS_ALLOWED_TARGETS. @default ['127.0.0.1'] */
  webhookTargets?: string[];
  /** Name resolution for webhook deliveries. */
  resolve?: (hostname: string) => Promise<{ address: string; family: number }[]>;
  /** More XEROTIER_* settings, as a deployment would set them. */
  env?: Record<string, string>;
}

/**
 * The production router (createRouter, the wiring main.ts uses) in this process, on loopback
 * ports, with its own database and a seeded project. Only cadences are shortened for tests.
 */
export async function startRouterHarness(options: RouterHarnessOptions = {}): Promise<RouterHarness> {
  const ownDatabase = options.database === undefined;
  const db = options.database ?? (await createTestDatabase());
  const logger = options.logger ?? silentLogger();
  const curve = generateCurveKeyPair();
  const config = loadConfig(routerConfigSchema, {
    env: {
      XEROTIER_DATABASE_URL: db.url,
      XEROTIER_DATABASE_POOL_MAX: '10',
      XEROTIER_COMPLETION_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      XEROTIER_TOKEN_SIGNING_KEY: randomBytes(32).toString('hex'),
      XEROTIER_ROUTER_CURVE_SECRET_KEY: curve.secretKey,
      XEROTIER_AUDIT_SIGNING_KEY: randomBytes(32).toString('hex'),
      XEROTIER_HTTP_HOST: '127.0.0.1',
      XEROTIER_HTTP_PORT: '0',
      XEROTIER_ROUTER_METRICS_HOST: '127.0.0.1',
      XEROTIER_ROUTER_METRICS_PORT: '0',
      XEROTIER_MESH_BIND: 'tcp://127.0.0.1:*',
      XEROTIER_ROUTER_LEASE_RENEWAL_INTERVAL_MS: String(options.leaseRenewalIntervalMs ?? 200),
      XEROTIER_ROUTER_HEARTBEAT_TIMEOUT_MS: String(options.heartbeatTimeoutMs ?? 1_000),
      // Plain-http webhook receivers on loopback, allowed explicitly as an operator would allow an internal one.
      XEROTIER_WEBHOOKS_ALLOW_HTTP: 'true',
      XEROTIER_WEBHOOKS_ALLOWED_TARGETS: (options.webhookTargets ?? ['127.0.0.1']).join(' '),
      XEROTIER_API_RATE_LIMIT_RPM: '0',
      XEROTIER_SHUTDOWN_GRACE_SECONDS: '5',
      ...options.env,
    },
    readFile: () => null,
  });
  const settings = compileRouterSettings(config, {
    exec: {
      pollIntervalMs: 200,
      watchdogIntervalMs: 200,
      ...(options.dispatchTtlMs ? { dispatchTtlMs: options.dispatchTtlMs } : {}),
    },
    mesh: {
      refreshIntervalMs: 500,
      ...(options.handshakeBudget ? { handshakeBudget: options.handshakeBudget } : {}),
      ...(options.scrambleAutoIds === undefined ? {} : { scrambleAutoIds: options.scrambleAutoIds }),
    },
    webhooks: { intervalMs: 200 },
  });
  const router = createRouter(settings, {
    logger,
    ...(options.execEvents ? { execEvents: options.execEvents } : {}),
    ...(options.resolve ? { resolveHost: options.resolve } : {}),
  });
  const untrack = trackOpen('router harness');
  const started = await router.start().catch(async (error: unknown) => {
    await router.close().catch(() => undefined);
    untrack();
    throw error;
  });
  const project = await seedProject(router.pool, ownDatabase ? 'acme' : undefined);
  const mintJoinKey = async (role: 'xem' | 'xim' = 'xem') => {
    const response = await router.app.inject({
      method: 'POST',
      url: `/${project.project.id}/v1/management/join-keys`,
      headers: bearer(project.adminKey),
      payload: { role, name: 'test' },
    });
    return (response.json() as { key: string }).key;
  };
  return {
    db,
    pool: router.pool,
    app: router.app,
    url: started.httpUrl,
    project,
    router,
    mintJoinKey,
    routerCurvePublicKey: curve.publicKey,
    mesh: router.mesh,
    exec: router.exec,
    inference: router.inference,
    async restartMesh(whileDown) {
      await router.mesh.close();
      await whileDown?.();
      await router.mesh.start();
    },
    async enrollPeer(name, joinKey) {
      const peerCurve = generateCurveKeyPair();
      const signing = generateSigningKeyPair();
      const response = await router.app.inject({
        method: 'POST',
        url: '/v1/enroll',
        payload: {
          join_key: joinKey ?? (await mintJoinKey()),
          role: 'xem',
          registration_name: name,
          signing_public_key: Buffer.from(signing.publicKey).toString('hex'),
          curve_public_key: peerCurve.publicKey,
        },
      });
      if (response.statusCode !== 201) throw new Error(`enrollment of ${name} failed: ${response.body}`);
      return { agentId: (response.json() as { agent_id: string }).agent_id, curve: peerCurve, signing };
    },
    async close() {
      await router.close();
      if (ownDatabase) await db.drop();
      untrack();
    },
  };
}

export async function agentStatus(pool: Pool, agentId: string): Promise<string | undefined> {
  return (await pool.query<{ status: string }>('SELECT status FROM agents WHERE id = $1', [agentId])).rows[0]?.status;
}
