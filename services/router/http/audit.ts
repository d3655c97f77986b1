import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { listAudit, verifyAuditChain } from '../store/audit-log.js';
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
    actor: Type.Optional(Type.String({ pattern: '^(router|system|(key|agent):[a-z]+_[0-9a-f]{12,64})$' })),
  },
  strict,
);

/** `/:project_id/v1/management/audit`: the project's entries, and a check of the whole chain. */
export function auditRoutes(deps: { readonly pool: Pool }) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: Static<typeof AuditQuery> }>('/audit', { schema: { querystring: AuditQuery } }, async (request) => {
      const { limit: rawLimit, ...filter } = request.query;
      const limit = rawLimit === undefined ? 50 : Number(rawLimit);
      const rows = await listAudit(deps.pool, projectOf(request).id, { ...filter, limit: limit + 1 });
      const data = rows.slice(0, limit).map(auditView);
      return { object: 'list', data, has_more: rows.length > limit, next_cursor: rows.length > limit ? String(data[data.length - 1]!.position) : null };
    });

    // The chain spans every project (one hash chain per database), so verify walks all of it
    // but names only a position: other projects' content stays hidden.
    app.get('/audit/verify', async () => {
      const verdict = await verifyAuditChain(deps.pool);
      return { object: 'audit_verification', ...verdict, ...(verdict.ok ? {} : { first_broken: { ...verdict.first_broken, position: Number(verdict.first_broken.position) } }) };
    });
  };
}
