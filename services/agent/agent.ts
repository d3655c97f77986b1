import { createFrameCodec } from '../protocol/codec.js';
import type { AnyFrame } from '../protocol/frame.js';
import type { FrameBody, FrameType } from '../protocol/frame-bodies.js';
import { hashManifest, type Manifest } from '../protocol/manifest.js';
import type { SigningKeyPair } from '../protocol/signing.js';
import type { TraceCarrier } from '../protocol/frame.js';
import { backoffDelay } from '../runtime/backoff.js';
import { sleep, systemClock, type Clock, type Timer } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import {
  enroll,
  EnrollmentError,
  loadEnrollment,
  reauthenticate,
  refreshToken,
  retireEnrollment,
  saveEnrollment,
  type Enrollment,
} from './enrollment-client.js';
import { loadOrCreateCurveKey, loadOrCreateSigningKey } from './key-files.js';
import { AgentConnections } from './connections.js';
import { createMeshClient, type MeshClient } from './mesh-client.js';
import { AgentRetired } from './retired.js';

/** Where an agent is in its life; every change is logged and reported (a metric). */
export type AgentState = 'created' | 'enrolling' | 'connecting' | 'bound' | 'retired' | 'stopped';

export interface AgentIdentity {
  readonly role: 'xem' | 'xim';
  readonly registrationName: string;
  readonly signingKeyPath: string;
  readonly curveKeyPath: string;
  readonly enrollmentPath: string;
  readonly agentVersion: string;
}

export interface AgentRouter {
  readonly url: string;
  readonly joinKey: string | undefined;
  readonly allowInsecure: boolean;
}

/** What the agent offers, read at every lease renewal. */
export interface AgentOffer {
  /** Its hash goes in every renewal, the body when the router asks. */
  readonly manifest: () => { manifest: Manifest; version: number };
  readonly capacity: () => FrameBody<'lease_renewal'>['capacity'];
  readonly inFlight?: () => FrameBody<'lease_renewal'>['in_flight'];
  /** Engine health and load (XIM: what the router's scheduler weighs). */
  readonly health?: () => Record<string, unknown>;
}

export interface AgentEvents {
  /** Router frames the agent's own subsystems handle (exec.*, infer.*). */
  readonly onFrame?: (frame: AnyFrame) => void;
  /** The router acknowledged one of this agent's frames. */
  readonly onAck?: (ack: FrameBody<'ack'>) => void;
  /** A mesh connection was (re)bound: whatever awaits delivery can go. */
  readonly onBound?: () => void;
  /** The router revoked or replaced this agent while it ran; called once. */
  readonly onRetired: (reason: string) => void;
  readonly onState?: (state: AgentState) => void;
}

export interface AgentOptions {
  readonly identity: AgentIdentity;
  readonly router: AgentRouter;
  readonly offer: AgentOffer;
  readonly events: AgentEvents;
  readonly logger: Logger;
  /** The agent's own renewal cadence; the router's (from welcome) when unset. */
  readonly leaseRenewalIntervalMs?: number;
  readonly clock?: Clock;
}

export interface Agent {
  readonly state: AgentState;
  /** Known once started. */
  readonly agentId: string | undefined;
  readonly bound: boolean;
  /**
   * Loads its keys, resumes its enrollment (proving its key when the token has run out) or
   * enrolls with the join key, connects the mesh. Throws AgentRetired when the router no longer
   * admits it; waits out router outages, unless the signal aborts.
   */
  start(signal?: AbortSignal): Promise<string>;
  /** Signs and queues a frame; false while no connection is bound. */
  send<T extends FrameType>(
    type: T,
    body: FrameBody<T>,
    options?: { id?: string; trace?: TraceCarrier },
  ): Promise<boolean>;
  close(): Promise<void>;
}

/** Builds an agent without touching disk or network; start() does both. */
export function createAgent(options: AgentOptions): Agent {
  const clock = options.clock ?? systemClock;
  let state: AgentState = 'created';
  let enrollment: Enrollment | undefined;
  const links = new AgentConnections(clock);
  let rotating = false;
  let connectingSince = clock.now();
  let watchdog: Timer | undefined;
  let refresh: { cancel(): void } | undefined;
  let leaseTimer: Timer | undefined;
  let sendManifest = true;
  const move = (next: AgentState) => {
    if (next === state) return;
    options.logger.info({ from: state, to: next }, 'agent state changed');
    if (next === 'connecting') connectingSince = clock.now();
    state = next;
    options.events.onState?.(next);
  };
  const retire = (reason: string) => {
    if (state === 'retired' || state === 'stopped') return;
    move('retired');
    void retireEnrollment(options.identity.enrollmentPath, reason).finally(() => options.events.onRetired(reason));
  };
  const renew = () => {
    if (!links.current?.bound) return;
    const { manifest, version } = options.offer.manifest();
    void links.send('lease_renewal', {
      manifest_hash: hashManifest(manifest),
      manifest_version: version,
      capacity: options.offer.capacity(),
      in_flight: options.offer.inFlight?.() ?? [],
      ...(sendManifest ? { manifest } : {}),
      ...(options.offer.health ? { health: options.offer.health() } : {}),
    });
    sendManifest = false;
  };
  return {
    get state() {
      return state;
    },
    get agentId() {
      return enrollment?.agent_id;
    },
    get bound() {
      return links.current?.bound ?? false;
    },
    async start(signal) {
      move('enrolling');
      const signing = await loadOrCreateSigningKey(options.identity.signingKeyPath);
      const curve = await loadOrCreateCurveKey(options.identity.curveKeyPath);
      try {
        enrollment = await resumeOrEnroll(
          options,
          { signing, signingHex: Buffer.from(signing.publicKey).toString('hex'), curvePublicKey: curve.publicKey },
          clock,
          signal,
        );
      } catch (error) {
        if (error instanceof AgentRetired) move('retired');
        throw error;
      }
      move('connecting');
      const connect = (target: Enrollment): MeshClient => {
        const client: MeshClient = createMeshClient({
          endpoint: target.mesh_endpoint,
          routerCurvePublicKey: target.router_curve_public_key,
          curve,
          signing,
          clock,
          agentId: target.agent_id,
          role: options.identity.role,
          agentVersion: options.identity.agentVersion,
          codec: createFrameCodec(),
          logger: options.logger,
          onBound(welcome) {
            // A draining connection that rebinds is not taken back; it closes when its streams end.
            if (!links.isLive(client)) return;
            if (links.current !== client) moveTo(client, target);
            move('bound');
            sendManifest ||= welcome.send_manifest;
            clock.clearInterval(leaseTimer);
            renew();
            leaseTimer = clock.setInterval(renew, options.leaseRenewalIntervalMs ?? welcome.lease_renewal_interval_ms);
            options.events.onBound?.();
          },
          onUnbound: () => links.current === client && state === 'bound' && move('connecting'),
          onFrame(frame) {
            links.received(client, frame);
            if (frame.type === 'curve.rotate') return void rotate(frame.body.rotation_id);
            if (frame.type !== 'ack') return options.events.onFrame?.(frame);
            if (frame.body.send_manifest) sendManifest = true;
            options.events.onAck?.(frame.body);
          },
          onReenrollRequired: retire,
        });
        return client;
      };
      // The new connection (next CURVE key) is bound: it carries everything new from now on; the
      // old one drains (connections.ts), carrying only the streams whose requests came on it.
      const moveTo = (client: MeshClient, target: Enrollment) => {
        links.promote(client);
        connectedTo = target;
        options.logger.notice({ mesh_endpoint: target.mesh_endpoint }, "moved to the router's next CURVE key");
      };
      // curve.rotate came over the CURVE channel (only the router speaks there); the key itself
      // is taken from the router over HTTPS, as at enrollment. State and identity are kept.
      const rotate = async (rotationId: string) => {
        if (rotating || links.pending || !enrollment) return;
        rotating = true;
        try {
          const next = await resume(enrollment, signing, options.router.allowInsecure);
          enrollment = next;
          await saveEnrollment(options.identity.enrollmentPath, next);
          const same = sameTarget(next, connectedTo);
          options.logger.info(
            { rotation_id: rotationId, moving: !same },
            'the router asked to move to its next CURVE key',
          );
          if (same || state !== 'bound') return;
          const candidate = connect(next);
          links.pending = candidate;
          candidate.connect();
          // A next endpoint that never binds must not hold the agent off later rotations.
          clock
            .setTimeout(() => {
              if (links.pending !== candidate) return;
              links.pending = undefined;
              candidate.close();
              options.logger.warning({ rotation_id: rotationId }, 'the next CURVE key did not bind in time; staying');
            }, NEXT_BIND_DEADLINE_MS)
            .unref();
        } catch (error) {
          options.logger.warning(
            { err: error, rotation_id: rotationId },
            'could not fetch the next CURVE key; staying',
          );
        } finally {
          rotating = false;
        }
      };
      // Stuck connecting (the routers were rolled onto a key or endpoint this agent missed while
      // it was away, or a rotation found it connecting): ask the router what it announces now.
      const follow = async () => {
        if (rotating || !enrollment || state !== 'connecting' || clock.now() - connectingSince < STUCK_MS) return;
        rotating = true;
        try {
          const next = await resume(enrollment, signing, options.router.allowInsecure);
          enrollment = next;
          await saveEnrollment(options.identity.enrollmentPath, next);
          if (sameTarget(next, connectedTo)) return;
          options.logger.notice(
            { mesh_endpoint: next.mesh_endpoint },
            'the router announces another CURVE key or endpoint; reconnecting there',
          );
          links.current?.close();
          links.current = connect(next);
          connectedTo = next;
          links.current.connect();
        } catch (error) {
          options.logger.warning({ err: error }, 'could not ask the router where to connect; retrying');
        } finally {
          rotating = false;
          connectingSince = clock.now();
        }
      };
      watchdog = clock.setInterval(() => void follow(), STUCK_MS / 3);
      watchdog.unref();
      let connectedTo: Enrollment = enrollment;
      links.current = connect(enrollment);
      links.current.connect();
      refresh = scheduleRefresh(options, clock, {
        current: () => enrollment!,
        update: (next) => (enrollment = next),
        signing,
        retire,
      });
      return enrollment.agent_id;
    },
    send: (type, body, sendOptions) => links.send(type, body, sendOptions),
    async close() {
      clock.clearInterval(leaseTimer);
      clock.clearInterval(watchdog);
      refresh?.cancel();
      links.closeAll();
      if (state !== 'retired') move('stopped');
    },
  };
}

const NEXT_BIND_DEADLINE_MS = 30_000;
const STUCK_MS = 30_000;

/** The same router key and mesh endpoint: nothing to reconnect for. */
function sameTarget(a: Enrollment, b: Enrollment): boolean {
  return a.router_curve_public_key === b.router_curve_public_key && a.mesh_endpoint === b.mesh_endpoint;
}

/** `enroll` subcommands: keys made or loaded, an enrollment made or resumed and persisted, nothing started. */
export async function ensureEnrolled(
  options: Pick<AgentOptions, 'identity' | 'router' | 'offer' | 'logger'>,
): Promise<Enrollment> {
  const signing = await loadOrCreateSigningKey(options.identity.signingKeyPath);
  const curve = await loadOrCreateCurveKey(options.identity.curveKeyPath);
  return resumeOrEnroll(
    options,
    { signing, signingHex: Buffer.from(signing.publicKey).toString('hex'), curvePublicKey: curve.publicKey },
    systemClock,
  );
}

interface Keys {
  readonly signing: SigningKeyPair;
  readonly signingHex: string;
  readonly curvePublicKey: string;
}

async function resumeOrEnroll(
  options: Pick<AgentOptions, 'identity' | 'router' | 'offer' | 'logger'>,
  keys: Keys,
  clock: Clock,
  signal?: AbortSignal,
): Promise<Enrollment> {
  const saved = loadEnrollment(options.identity.enrollmentPath);
  const mine = saved?.registration_name === options.identity.registrationName ? saved : undefined;
  if (mine?.retired) return reenrollRetired(options, mine, keys);
  // The router may have moved (a new address for the same deployment): keep the identity, talk to the configured URL.
  if (mine) {
    options.logger.info({ agent_id: mine.agent_id }, 'using the persisted enrollment');
    const resumed = await untilAnswered(
      () => resume({ ...mine, router_url: options.router.url }, keys.signing, options.router.allowInsecure),
      options.logger,
      clock,
      signal,
    ).catch(async (error: unknown) => {
      if (!(error instanceof EnrollmentError) || error.retryable) throw error;
      await retireEnrollment(options.identity.enrollmentPath, error.message);
      throw new AgentRetired(error.message);
    });
    await saveEnrollment(options.identity.enrollmentPath, resumed);
    return resumed;
  }
  if (!options.router.joinKey)
    throw new EnrollmentError('not enrolled and no join key given: set the join key to enroll', false);
  return enrollWithKey(options, options.router.joinKey, keys);
}

/** A valid token is refreshed; an expired one (an outage longer than its life) is replaced by proving the enrolled key. */
async function resume(enrollment: Enrollment, signing: SigningKeyPair, allowInsecure: boolean): Promise<Enrollment> {
  if (new Date(enrollment.expires_at).getTime() - Date.now() > 5_000) {
    try {
      return await refreshToken(enrollment, allowInsecure);
    } catch (error) {
      // Only a token it no longer takes (expired while the agent was down) is worth the challenge.
      if (!(error instanceof EnrollmentError) || error.code !== 'invalid_token') throw error;
    }
  }
  return reauthenticate(enrollment, signing, allowInsecure);
}

/**
 * A retired identity comes back only through a new join key: one attempt per start with the
 * configured key (a spent one is refused, and the agent stays retired saying so).
 */
async function reenrollRetired(
  options: Pick<AgentOptions, 'identity' | 'router' | 'offer' | 'logger'>,
  saved: Enrollment,
  keys: Keys,
): Promise<Enrollment> {
  const why = `${saved.retired!.reason} (at ${saved.retired!.at})`;
  if (!options.router.joinKey) throw new AgentRetired(why);
  try {
    return await enrollWithKey(options, options.router.joinKey, keys);
  } catch (error) {
    if (error instanceof EnrollmentError && !error.retryable)
      throw new AgentRetired(`${why}; the configured join key was refused: ${error.message}`);
    throw error;
  }
}

async function enrollWithKey(
  options: Pick<AgentOptions, 'identity' | 'router' | 'offer' | 'logger'>,
  joinKey: string,
  keys: Keys,
): Promise<Enrollment> {
  const enrolled = await enroll({
    routerUrl: options.router.url,
    allowInsecure: options.router.allowInsecure,
    joinKey,
    role: options.identity.role,
    registrationName: options.identity.registrationName,
    signingPublicKeyHex: keys.signingHex,
    curvePublicKey: keys.curvePublicKey,
    manifest: options.offer.manifest().manifest,
  });
  await saveEnrollment(options.identity.enrollmentPath, enrolled);
  options.logger.info({ agent_id: enrolled.agent_id, project_id: enrolled.project_id }, 'enrolled');
  return enrolled;
}

/** Retries what failed retryably (the router unreachable) with jittered backoff up to 30 s, until the signal aborts. */
async function untilAnswered<T>(
  attempt: () => Promise<T>,
  logger: Logger,
  clock: Clock,
  signal?: AbortSignal,
): Promise<T> {
  for (let failures = 0; ; failures += 1) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof EnrollmentError) || !error.retryable) throw error;
      const delay = backoffDelay(failures, { initialMs: 1_000, maxMs: 30_000 });
      logger.warning({ err: error, retry_in_ms: delay }, 'router not reachable; retrying');
      if (!(await sleep(delay, signal, clock))) throw error;
    }
  }
}

/**
 * Refreshes the token at 80% of its remaining life. An outage is retried (jittered, 10 s); a
 * token the router no longer takes is replaced by proving the enrolled key; revocation or
 * replacement retires the agent.
 */
function scheduleRefresh(
  options: AgentOptions,
  clock: Clock,
  session: {
    current(): Enrollment;
    update(next: Enrollment): void;
    signing: SigningKeyPair;
    retire(reason: string): void;
  },
): { cancel(): void } {
  let timer: Timer | undefined;
  let cancelled = false;
  const arm = (delayMs: number) => {
    if (cancelled) return;
    timer = clock.setTimeout(() => {
      resume(session.current(), session.signing, options.router.allowInsecure)
        .then(async (next) => {
          session.update(next);
          await saveEnrollment(options.identity.enrollmentPath, next);
          arm(untilRefresh(next, clock));
        })
        .catch((error: unknown) => {
          if (error instanceof EnrollmentError && !error.retryable) return session.retire(error.message);
          options.logger.warning({ err: error }, 'token refresh failed; retrying soon');
          arm(backoffDelay(1, { initialMs: 5_000, maxMs: 10_000 }));
        });
    }, delayMs);
    timer.unref();
  };
  arm(untilRefresh(session.current(), clock));
  return {
    cancel() {
      cancelled = true;
      clock.clearTimeout(timer);
    },
  };
}

function untilRefresh(enrollment: Enrollment, clock: Clock): number {
  return Math.max(1_000, (new Date(enrollment.expires_at).getTime() - clock.now()) * 0.8);
}
