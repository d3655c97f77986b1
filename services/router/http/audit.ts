import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import type { Checkpoint } from '../audit/checkpoint.js';
import { verifyAudit } from '../audit/verify.js';
import { listAudit } from '../store/audit-log.js';
import type { Pool } from '../store/pool.js';
import { projectOf } from './auth.js';
import { auditView } from './exec-views.js';
import { strict } from './schemas.js';

const AuditQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$' })),
    before: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,17}$' })),
    event: Type.Optional(Type.String({ pattern: '^[a-z_]+\\.[a-z_.]+$', maxLength: 80 })),
    subject: Type.Optional(Type.String({ pattern: '^[a-z]+_[0-9a-f]{12,64}$' })),
    actor: Type.Optional(
      Type.String({ pattern: '^(router|system|(usr|sa)_[0-9a-f]{12,48}|(key|agent):[a-z]+_[0-9a-f]{12,64})$' }),
    ),
  },
  strict,
);

const CheckpointBody = Type.Object(
  {
    checkpoint: Type.Object(
      {
        object: Type.Literal('audit_checkpoint'),
        v: Type.Literal(1),
        chain: Type.String({ maxLength: 100 }),
        position: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
        hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
        at: Type.String({ maxLength: 40 }),
        key: Type.String({ pattern: '^[0-9a-f]{64}$' }),
        signature: Type.String({ maxLength: 200 }),
      },
      strict,
    ),
  },
  strict,
);

// Operators and viewers read the audit log without any management right.
const AUDIT = { permission: 'audit.read' } as const;

/** `/:project_id/v1/management/audit`: the project's entries, a check of the whole chain, the checkpoint key. */
export function auditRoutes(deps: { readonly pool: Pool; readonly auditKeyHex: string }) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: Static<typeof AuditQuery> }>(
      '/audit',
      { schema: { querystring: AuditQuery }, config: AUDIT },
      async (request) => {
        const { limit: rawLimit, ...filter } = request.query;
        const limit = rawLimit === undefined ? 50 : Number(rawLimit);
        const rows = await listAudit(deps.pool, projectOf(request).id, { ...filter, limit: limit + 1 });
        const data = rows.slice(0, limit).map(auditView);
        return {
          object: 'list',
          data,
          has_more: rows.length > limit,
          next_cursor: rows.length > limit ? String(data[data.length - 1]!.position) : null,
        };
      },
    );

    // The chain spans every project (one hash chain per database), so verify walks all of it
    // but names only a position: other projects' content stays hidden.
    app.get('/audit/verify', { config: AUDIT }, async () => ({
      object: 'audit_verification',
      ...(await verifyAudit(deps.pool, { auditKeyHex: deps.auditKeyHex })),
    }));

    // With a checkpoint kept outside the database: truncation and re-chaining since it show.
    app.post<{ Body: Static<typeof CheckpointBody> }>(
      '/audit/verify',
      { schema: { body: CheckpointBody }, config: AUDIT },
      async (request) => ({
        object: 'audit_verification',
        ...(await verifyAudit(deps.pool, {
          auditKeyHex: deps.auditKeyHex,
          checkpoint: request.body.checkpoint as Checkpoint,
        })),
      }),
    );

    // The key checkpoints are signed with: pin it once, then a checkpoint naming another is refused.
    app.get('/audit/checkpoint-key', { config: AUDIT }, async () => ({
      object: 'audit_checkpoint_key',
      algorithm: 'ed25519',
      key: deps.auditKeyHex,
    }));
  };
}
