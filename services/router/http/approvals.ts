import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { decideApproval } from '../exec/approvals.js';
import {
  decisionsOf,
  findApproval,
  listApprovals,
  type ApprovalFilter,
  type ApprovalRecord,
} from '../store/approvals.js';
import type { FastifyRequest } from 'fastify';
import type { Pool } from '../store/pool.js';
import { hasPermission, projectOf } from './auth.js';
import { ApiError } from './errors.js';
import { approvalView } from './exec-views.js';
import { idParams, PageQuery, pagedList, strict, type Page } from './schemas.js';

const ApprovalParams = idParams('apr');
type ApprovalParams = Static<typeof ApprovalParams>;
const ApprovalQuery = Type.Object(
  {
    ...PageQuery.properties,
    state: Type.Optional(
      Type.Union(['pending', 'approved', 'rejected', 'expired', 'cancelled'].map((state) => Type.Literal(state))),
    ),
    workspace_id: Type.Optional(Type.String({ pattern: '^ws_[0-9a-f]{12,48}$' })),
  },
  strict,
);
const ApproveBody = Type.Object(
  {
    note: Type.Optional(Type.String({ maxLength: 2000 })),
    request_hash: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
  },
  strict,
);
const RejectBody = Type.Object(
  {
    reason: Type.Optional(Type.String({ maxLength: 2000 })),
    request_hash: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
  },
  strict,
);
const emptyBody = async (request: { body: unknown }) => void (request.body ??= {});

/** `/:project_id/v1/exec/approvals`: the human half of dangerous calls. */
export function approvalRoutes(deps: { readonly pool: Pool }) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: Static<typeof ApprovalQuery> }>(
      '/approvals',
      { schema: { querystring: ApprovalQuery } },
      async (request) => {
        const { limit: _limit, after: _after, ...filter } = request.query as ApprovalFilter & Page;
        const listed = await pagedList(
          request.query,
          (page) => listApprovals(deps.pool, projectOf(request).id, { ...filter, ...page }),
          (approval) => approval,
        );
        const decisions = await decisionsOf(
          deps.pool,
          listed.data.map((approval) => approval.id),
        );
        return { ...listed, data: listed.data.map((approval) => approvalView(approval, decisions)) };
      },
    );

    app.get<{ Params: ApprovalParams }>('/approvals/:id', { schema: { params: ApprovalParams } }, async (request) => {
      const approval = await findApproval(deps.pool, projectOf(request).id, request.params.id);
      if (!approval) throw new ApiError('approval_not_found', undefined, 'id');
      return withDecisions(deps.pool, approval);
    });

    // The same decision either way; the note is `note` when approving, `reason` when rejecting.
    for (const [verdict, body, noteField] of [
      ['approve', ApproveBody, 'note'],
      ['reject', RejectBody, 'reason'],
    ] as const) {
      app.post<{ Params: ApprovalParams; Body: { note?: string; reason?: string; request_hash?: string } }>(
        `/approvals/:id/${verdict}`,
        { schema: { params: ApprovalParams, body }, preValidation: emptyBody, config: { permission: 'exec.read' } },
        async (request) => {
          const note = request.body[noteField];
          return withDecisions(
            deps.pool,
            await decideApproval(deps.pool, {
              projectId: projectOf(request).id,
              approvalId: request.params.id,
              decider: deciderOf(request),
              verdict,
              ...(note ? { note } : {}),
              ...(request.body.request_hash ? { requestHash: request.body.request_hash } : {}),
            }),
          );
        },
      );
    }
  };
}

async function withDecisions(pool: Pool, approval: ApprovalRecord) {
  return approvalView(approval, await decisionsOf(pool, [approval.id]));
}

/**
 * The person deciding. The route itself needs only exec.read: whether they may approve is the
 * rules' call (the approver role, the workspace's approvers list, or rejecting one's own call),
 * so the refusal says which rule it was.
 */
function deciderOf(request: FastifyRequest) {
  const principal = request.principal!;
  return {
    principalId: principal.principalId,
    mayApprove: hasPermission(request, 'exec.approve'),
    keyId: principal.keyId,
    channel: principal.channel,
  };
}
