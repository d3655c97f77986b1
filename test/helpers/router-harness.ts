import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { generateCurveKeyPair, type CurveKeyPair } from '../../services/protocol/curve-keys.js';
import { generateSigningKeyPair, type SigningKeyPair } from '../../services/protocol/signing.js';
import { buildApp } from '../../services/router/app.js';
import { execFrameHandlers, type ExecFrameEvents } from '../../services/router/exec/agent-frames.js';
import { startExecRuntime, type ExecRuntime } from '../../services/router/exec/exec-runtime.js';
import { AttemptOwners } from '../../services/router/exec/attempt-owners.js';
import { FrameRefusals } from '../../services/router/exec/frame-refusals.js';
import { findAttemptOwner } from '../../services/router/store/exec-results.js';
import { startWebhookWorker } from '../../services/router/webhooks/worker.js';
import { parseAllowlist } from '../../services/router/webhooks/target-policy.js';
import type { HandshakeBudgetOptions } from '../../services/router/mesh/handshake-budget.js';
import type { FrameHandler } from '../../services/router/mesh/server.js';
import type { FrameType } from '../../services/protocol/frame-bodies.js';
import { startMesh, type Mesh } from '../../services/router/mesh/mesh.js';
import { createInferenceRuntime, inferenceHandlers, type InferenceRuntime } from '../../services/router/inference/runtime.js';
import { createPool, type Pool } from '../../services/router/store/pool.js';
import type { Logger } from '../../services/runtime/logger.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { bearer, seedProject, testEnrollment, type SeededProject } from './fixtures.js';
import { silentLogger } from './logger.js';

export interface RouterHarness {
  readonly db: TestDatabase;
  readonly pool: Pool;
  readonly app: FastifyInstance;
  /** The current mesh (restartMesh replaces it). */
  readonly mesh: Mesh;
  readonly url: string;
  readonly routerCurvePublicKey: string;
  readonly project: SeededProject;
  mintJoinKey(role?: 'xem' | 'xim'): Promise<string>;
  /** Stops the mesh and starts a new one on the same endpoint, as a router restart would; whileDown runs in between. */
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

/** The router's HTTP API and mesh in this process, on loopback ports, with its own database. */
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
  /** More frame handlers (infer.* before the router has its own). */
  handlers?: Partial<Record<FrameType, FrameHandler>>;
  /** XEROTIER_WEBHOOKS_ALLOWED_TARGETS. @default ['127.0.0.1'] */
  webhookTargets?: string[];
  /** Name resolution for webhook deliveries. */
  resolve?: (hostname: string) => Promise<{ address: string; family: number }[]>;
}

export async function startRouterHarness(options: RouterHarnessOptions = {}): Promise<RouterHarness> {
  const ownDatabase = options.database === undefined;
  const db = options.database ?? (await createTestDatabase());
  const logger = options.logger ?? silentLogger();
  const pool = createPool({ connectionString: db.url, max: 10, logger });
  const project = await seedProject(pool, ownDatabase ? 'acme' : undefined);
  const leaseRenewalIntervalMs = options.leaseRenewalIntervalMs ?? 200;
  const enrollment = testEnrollment({ leaseRenewalIntervalMs });
  const owners = new AttemptOwners((id) => findAttemptOwner(pool, id));
  const startOn = (bind: string) => startMesh({
    pool, databaseUrl: db.url, logger, bind, curveSecretKey: enrollment.curveSecretKey, leaseRenewalIntervalMs,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 1_000, refreshIntervalMs: 500,
    ...(options.handshakeBudget ? { handshakeBudget: options.handshakeBudget } : {}),
    ...(options.scrambleAutoIds === undefined ? {} : { scrambleAutoIds: options.scrambleAutoIds }),
    onAgentLost: (agentId) => inference.agentLost(agentId),
    handlers: { ...execFrameHandlers({ pool, logger, ...(options.execEvents ? { events: options.execEvents } : {}), owners }), ...inferenceHandlers(() => inference), ...options.handlers },
  });
  const inference: InferenceRuntime = createInferenceRuntime(pool, { boundAgents: () => mesh.boundAgents(), leaseOf: (id) => mesh.leaseOf(id), send: (id, frame) => mesh.server.send(id, frame) }, { refusals: new FrameRefusals({ db: pool, logger }) });
  let mesh = await startOn('tcp://127.0.0.1:*');
  const hooks = { agentEnrolled: (...args: Parameters<Mesh['agentEnrolled']>) => mesh.agentEnrolled(...args), agentRevoked: (agentId: string) => mesh.agentRevoked(agentId) };
  const exec = startExecRuntime({
    pool, databaseUrl: db.url, logger, watchdogIntervalMs: 200, pollIntervalMs: 200, owners, ...(options.dispatchTtlMs ? { dispatchTtlMs: options.dispatchTtlMs } : {}),
    mesh: { boundAgents: () => mesh.boundAgents(), capacityOf: (id) => mesh.capacityOf(id), send: (id, frame) => mesh.server.send(id, frame) },
  });
  // Plain-http endpoints allowed: the receivers in tests are local.
  // Loopback receivers are allowed explicitly, as an operator would allow an internal one.
  const webhooks = { secretKey: randomBytes(32), allowHttp: true, allow: parseAllowlist(options.webhookTargets ?? ['127.0.0.1']) };
  const webhookWorker = startWebhookWorker({ pool, logger, secretKey: webhooks.secretKey, intervalMs: 200, allow: webhooks.allow, ...(options.resolve ? { resolve: options.resolve } : {}) });
  const app = buildApp({ logger, pool, enrollment: { ...enrollment, meshEndpoint: mesh.server.endpoint }, mesh: hooks, exec: { hub: exec.hub, wake: () => exec.dispatcher.wake() }, webhooks, inference });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const mintJoinKey = async (role: 'xem' | 'xim' = 'xem') => {
    const response = await app.inject({ method: 'POST', url: `/${project.project.id}/v1/management/join-keys`, headers: bearer(project.adminKey), payload: { role, name: 'test' } });
    return (response.json() as { key: string }).key;
  };
  return {
    db, pool, app, url, project, routerCurvePublicKey: enrollment.routerCurvePublicKey, mintJoinKey,
    get mesh() {
      return mesh;
    },
    async restartMesh(whileDown) {
      const endpoint = mesh.server.endpoint;
      await mesh.close();
      await whileDown?.();
      mesh = await startOn(endpoint);
    },
    async enrollPeer(name, joinKey) {
      const curve = generateCurveKeyPair();
      const signing = generateSigningKeyPair();
      const response = await app.inject({
        method: 'POST', url: '/v1/enroll',
        payload: { join_key: joinKey ?? (await mintJoinKey()), role: 'xem', registration_name: name, signing_public_key: Buffer.from(signing.publicKey).toString('hex'), curve_public_key: curve.publicKey },
      });
      if (response.statusCode !== 201) throw new Error(`enrollment of ${name} failed: ${response.body}`);
      return { agentId: (response.json() as { agent_id: string }).agent_id, curve, signing };
    },
    exec,
    inference,
    async close() {
      await app.close();
      await exec.close();
      await webhookWorker.close();
      await mesh.close();
      await pool.end();
      if (ownDatabase) await db.drop();
    },
  };
}

export async function agentStatus(pool: Pool, agentId: string): Promise<string | undefined> {
  return (await pool.query<{ status: string }>('SELECT status FROM agents WHERE id = $1', [agentId])).rows[0]?.status;
}
