import { createFrameCodec } from '../protocol/codec.js';
import type { AnyFrame } from '../protocol/frame.js';
import type { FrameBody } from '../protocol/frame-bodies.js';
import { hashManifest, type Manifest } from '../protocol/manifest.js';
import type { Logger } from '../runtime/logger.js';
import { enroll, EnrollmentError, loadEnrollment, refreshToken, retireEnrollment, saveEnrollment, type Enrollment } from './enrollment-client.js';
import { AgentRetired } from './retired.js';
import { loadOrCreateCurveKey, loadOrCreateSigningKey } from './key-files.js';
import { startMeshClient, type MeshClient } from './mesh-client.js';

export interface AgentOptions {
  readonly role: 'xem' | 'xim';
  readonly registrationName: string;
  readonly routerUrl: string;
  readonly joinKey: string | undefined;
  readonly allowInsecure: boolean;
  readonly signingKeyPath: string;
  readonly curveKeyPath: string;
  readonly enrollmentPath: string;
  readonly agentVersion: string;
  /** The agent's own renewal cadence; the router's (from welcome) when unset. */
  readonly leaseRenewalIntervalMs?: number;
  readonly logger: Logger;
  /** What the agent offers; its hash goes in every lease renewal, the body when asked. */
  readonly manifest: () => { manifest: Manifest; version: number };
  readonly capacity: () => FrameBody<'lease_renewal'>['capacity'];
  readonly inFlight?: () => FrameBody<'lease_renewal'>['in_flight'];
  /** Engine health and load, sent with every renewal (XIM: what the router's scheduler weighs). */
  readonly health?: () => Record<string, unknown>;
  /** Router frames the agent's own subsystems handle (exec.*, infer.*). */
  readonly onFrame?: (frame: AnyFrame) => void;
  /** The router acknowledged one of this agent's frames. */
  readonly onAck?: (ack: FrameBody<'ack'>) => void;
  /** A mesh connection was (re)bound: whatever awaits delivery can go. */
  readonly onBound?: () => void;
  /** Nothing more can be done without an operator (re-enrollment required); called once. */
  readonly onFatal: (reason: string) => void;
}

export interface RunningAgent {
  readonly agentId: string;
  readonly mesh: MeshClient;
  close(): Promise<void>;
}

/**
 * Brings an agent up: its persisted keys, a persisted enrollment (or a new one with the join
 * key), a token refresh loop, the mesh connection and the lease loop.
 */
export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const signing = await loadOrCreateSigningKey(options.signingKeyPath);
  const curve = await loadOrCreateCurveKey(options.curveKeyPath);
  let enrollment = await currentEnrollment(options, Buffer.from(signing.publicKey).toString('hex'), curve.publicKey);
  let leaseTimer: NodeJS.Timeout | undefined;
  let sendManifest = true;
  const fatal = (reason: string) => {
    void retireEnrollment(options.enrollmentPath, reason).finally(() => options.onFatal(reason));
  };

  const renew = (mesh: MeshClient) => {
    const { manifest, version } = options.manifest();
    const body: FrameBody<'lease_renewal'> = {
      manifest_hash: hashManifest(manifest), manifest_version: version, capacity: options.capacity(), in_flight: options.inFlight?.() ?? [],
      ...(sendManifest ? { manifest } : {}), ...(options.health ? { health: options.health() } : {}),
    };
    sendManifest = false;
    void mesh.send('lease_renewal', body);
  };
  const mesh: MeshClient = startMeshClient({
    endpoint: enrollment.mesh_endpoint, routerCurvePublicKey: enrollment.router_curve_public_key, curve, signing,
    agentId: enrollment.agent_id, role: options.role, agentVersion: options.agentVersion, codec: createFrameCodec(), logger: options.logger,
    onBound(welcome) {
      options.logger.info({ agent_id: welcome.agent_id, lease_renewal_interval_ms: welcome.lease_renewal_interval_ms }, 'bound to the router');
      sendManifest ||= welcome.send_manifest;
      clearInterval(leaseTimer);
      renew(mesh);
      leaseTimer = setInterval(() => mesh.bound && renew(mesh), options.leaseRenewalIntervalMs ?? welcome.lease_renewal_interval_ms);
      options.onBound?.();
    },
    onFrame(frame) {
      if (frame.type !== 'ack') return options.onFrame?.(frame);
      if (frame.body.send_manifest) sendManifest = true;
      options.onAck?.(frame.body);
    },
    onReenrollRequired: (reason) => fatal(reason),
  });
  const refresh = scheduleRefresh(options, () => enrollment, (next) => (enrollment = next), fatal);
  return {
    agentId: enrollment.agent_id,
    mesh,
    async close() {
      clearInterval(leaseTimer);
      refresh.cancel();
      mesh.close();
    },
  };
}

/** `enroll` subcommands: keys made or loaded, an enrollment made or refreshed and persisted, nothing started. */
export async function ensureEnrolled(options: AgentOptions): Promise<Enrollment> {
  const signing = await loadOrCreateSigningKey(options.signingKeyPath);
  const curve = await loadOrCreateCurveKey(options.curveKeyPath);
  return currentEnrollment(options, Buffer.from(signing.publicKey).toString('hex'), curve.publicKey);
}

async function currentEnrollment(options: AgentOptions, signingKeyHex: string, curvePublicKey: string): Promise<Enrollment> {
  const saved = loadEnrollment(options.enrollmentPath);
  if (saved?.retired && saved.registration_name === options.registrationName) return reenrollRetired(options, saved, signingKeyHex, curvePublicKey);
  // The router may have moved (a new address for the same deployment): keep the identity, talk
  // to the configured URL. A different router refuses the token and re-enrollment follows.
  if (saved && saved.registration_name === options.registrationName) {
    options.logger.info({ agent_id: saved.agent_id }, 'using the persisted enrollment');
    const current = await refreshUntilAnswered({ ...saved, router_url: options.routerUrl }, options).catch(async (error: unknown) => {
      if (!(error instanceof EnrollmentError) || error.retryable) throw error;
      await retireEnrollment(options.enrollmentPath, error.message);
      throw new AgentRetired(error.message);
    });
    await saveEnrollment(options.enrollmentPath, current);
    return current;
  }
  if (!options.joinKey) throw new EnrollmentError('not enrolled and no join key given: set the join key to enroll', false);
  return enrollWithKey(options, options.joinKey, signingKeyHex, curvePublicKey);
}

/**
 * A retired identity comes back only through a new join key: one attempt per start with the
 * configured key (a spent one is refused, and the agent stays retired saying so).
 */
async function reenrollRetired(options: AgentOptions, saved: Enrollment, signingKeyHex: string, curvePublicKey: string): Promise<Enrollment> {
  const why = `${saved.retired!.reason} (at ${saved.retired!.at})`;
  if (!options.joinKey) throw new AgentRetired(why);
  try {
    return await enrollWithKey(options, options.joinKey, signingKeyHex, curvePublicKey);
  } catch (error) {
    if (error instanceof EnrollmentError && !error.retryable) throw new AgentRetired(`${why}; the configured join key was refused: ${error.message}`);
    throw error;
  }
}

async function enrollWithKey(options: AgentOptions, joinKey: string, signingKeyHex: string, curvePublicKey: string): Promise<Enrollment> {
  const enrolled = await enroll({
    routerUrl: options.routerUrl, allowInsecure: options.allowInsecure, joinKey, role: options.role,
    registrationName: options.registrationName, signingPublicKeyHex: signingKeyHex, curvePublicKey, manifest: options.manifest().manifest,
  });
  await saveEnrollment(options.enrollmentPath, enrolled);
  options.logger.info({ agent_id: enrolled.agent_id, project_id: enrolled.project_id }, 'enrolled');
  return enrolled;
}

/** At start: a fresh token and the router's current mesh endpoint, waiting out router outages. */
async function refreshUntilAnswered(saved: Enrollment, options: AgentOptions): Promise<Enrollment> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await refreshToken(saved, options.allowInsecure);
    } catch (error) {
      if (!(error instanceof EnrollmentError) || !error.retryable) throw error;
      const delay = Math.min(30_000, 1_000 * 2 ** attempt);
      options.logger.warning({ err: error, retry_in_ms: delay }, 'router not reachable; retrying');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Refreshes the token at 80% of its remaining life; a refusal is fatal, an outage retried in 10 s. */
function scheduleRefresh(
  options: AgentOptions,
  current: () => Enrollment,
  update: (next: Enrollment) => void,
  fatal: (reason: string) => void,
): { cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const arm = (delayMs: number) => {
    timer = setTimeout(() => {
      refreshToken(current(), options.allowInsecure)
        .then(async (next) => {
          update(next);
          await saveEnrollment(options.enrollmentPath, next);
          arm(untilRefresh(next));
        })
        .catch((error: unknown) => {
          if (error instanceof EnrollmentError && !error.retryable) fatal(error.message);
          else {
            options.logger.warning({ err: error }, 'token refresh failed; retrying in 10 s');
            arm(10_000);
          }
        });
    }, delayMs);
    timer.unref();
  };
  arm(untilRefresh(current()));
  return { cancel: () => clearTimeout(timer) };
}

function untilRefresh(enrollment: Enrollment): number {
  return Math.max(1_000, (new Date(enrollment.expires_at).getTime() - Date.now()) * 0.8);
}
