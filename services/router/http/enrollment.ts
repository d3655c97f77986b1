import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { isCurveKey } from '../../protocol/curve-keys.js';
import type { AgentKeys } from '../mesh/admission.js';
import { enrollAgent, refreshAgentToken, type EnrollmentSettings } from '../enrollment/enroll.js';
import { createFailureThrottle, type FailureThrottle } from '../enrollment/failure-throttle.js';
import { issueChallenge, reauthenticate } from '../enrollment/reauthenticate.js';
import type { Pool } from '../store/pool.js';
import { bearerToken } from './auth.js';
import { ApiError } from './errors.js';
import { strict } from './schemas.js';

const EnrollBody = Type.Object(
  {
    join_key: Type.String({ minLength: 1, maxLength: 256 }),
    role: Type.Union([Type.Literal('xem'), Type.Literal('xim')]),
    registration_name: Type.String({ minLength: 1, maxLength: 48, pattern: '^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$' }),
    signing_public_key: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    curve_public_key: Type.String({ minLength: 40, maxLength: 40 }),
    manifest: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { maxProperties: 64 })),
  },
  { ...strict, wireSafe: true },
);

export const ENROLL_BODY_LIMIT = 512 * 1024;

const AgentId = Type.String({ pattern: '^agt_[0-9a-f]{12,64}$' });
const ChallengeBody = Type.Object({ agent_id: AgentId }, strict);
const ReauthBody = Type.Object(
  {
    agent_id: AgentId,
    nonce: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    signature: Type.String({ minLength: 80, maxLength: 100 }),
  },
  strict,
);

export interface MeshHooks {
  agentEnrolled(keys: AgentKeys, superseded: readonly string[]): void;
  agentRevoked(agentId: string): void;
}

/** `POST /v1/enroll` (join key → agent id and token) and `POST /v1/enroll/refresh` (token → token). */
export function enrollmentRoutes(deps: {
  pool: Pool;
  settings: EnrollmentSettings;
  mesh?: MeshHooks;
  throttle?: FailureThrottle;
  now?: () => Date;
}) {
  const throttle = deps.throttle ?? createFailureThrottle({ limit: 20, windowMs: 60_000 });
  const now = deps.now ?? (() => new Date());
  return async function register(app: FastifyInstance): Promise<void> {
    // A manifest must fit the mesh's lease renewal frame later; larger bodies are refused (413) here.
    app.post<{ Body: Static<typeof EnrollBody> }>(
      '/v1/enroll',
      { schema: { body: EnrollBody }, bodyLimit: ENROLL_BODY_LIMIT },
      async (request, reply) => {
        const wait = throttle.retryAfter(request.ip);
        if (wait > 0) throw ApiError.rateLimited(wait, 'Too many refused enrollments from this address; retry later');
        if (!isCurveKey(request.body.curve_public_key))
          throw new ApiError('invalid_body', 'curve_public_key is not a Z85 CURVE key', 'curve_public_key');
        const outcome = await enrollAgent(deps.pool, deps.settings, request.body, request.ip);
        // A valid key refused for a collision says why (its holder may ask for a replacing key).
        if (!outcome.ok && outcome.refusal)
          throw new ApiError(
            outcome.refusal,
            undefined,
            outcome.refusal === 'agent_key_in_use' ? 'curve_public_key' : 'registration_name',
          );
        if (!outcome.ok) {
          throttle.recordFailure(request.ip);
          throw new ApiError('enrollment_denied');
        }
        deps.mesh?.agentEnrolled(outcome.keys, outcome.superseded);
        request.log.info(
          { agent_id: outcome.agentId, project_id: outcome.projectId, superseded: outcome.superseded },
          'agent enrolled',
        );
        return reply.status(201).send({
          agent_id: outcome.agentId,
          project_id: outcome.projectId,
          token: outcome.token,
          expires_at: outcome.expiresAt.toISOString(),
          router_curve_public_key: deps.settings.routerCurvePublicKey,
          mesh_endpoint: deps.settings.meshEndpoint(),
          lease_renewal_interval_ms: deps.settings.leaseRenewalIntervalMs,
        });
      },
    );

    app.post('/v1/enroll/refresh', async (request) => {
      const refreshed = await refreshAgentToken(deps.pool, deps.settings.tokens, bearerToken(request) ?? '');
      if ('refusal' in refreshed) throw new ApiError(refreshed.refusal);
      return session(refreshed);
    });

    // After an outage longer than its token's life, an agent proves its enrolled key instead.
    app.post<{ Body: Static<typeof ChallengeBody> }>(
      '/v1/enroll/challenge',
      { schema: { body: ChallengeBody } },
      async (request) => {
        const wait = throttle.retryAfter(request.ip);
        if (wait > 0)
          throw ApiError.rateLimited(wait, 'Too many refused re-authentications from this address; retry later');
        const issued = await issueChallenge(deps.pool, request.body.agent_id, now());
        return { nonce: issued.nonce, expires_at: issued.expiresAt.toISOString() };
      },
    );

    app.post<{ Body: Static<typeof ReauthBody> }>(
      '/v1/enroll/reauthenticate',
      { schema: { body: ReauthBody } },
      async (request) => {
        const { agent_id: agentId, nonce, signature } = request.body;
        const answered = await reauthenticate(
          deps.pool,
          deps.settings.tokens,
          { agentId, nonce, signature },
          { now: now(), from: request.ip },
        );
        if ('refusal' in answered) {
          if (answered.refusal === 'reauthentication_failed') throttle.recordFailure(request.ip);
          throw new ApiError(answered.refusal);
        }
        request.log.info({ agent_id: agentId }, 'agent re-authenticated with its enrolled key');
        return session(answered);
      },
    );

    // Connection details too: a restarted router may listen elsewhere or hand out another cadence.
    function session(issued: { token: string; expiresAt: Date }) {
      return {
        token: issued.token,
        expires_at: issued.expiresAt.toISOString(),
        router_curve_public_key: deps.settings.routerCurvePublicKey,
        mesh_endpoint: deps.settings.meshEndpoint(),
        lease_renewal_interval_ms: deps.settings.leaseRenewalIntervalMs,
      };
    }
  };
}
