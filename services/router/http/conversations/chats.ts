import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { assertOwner, branchOf, chatOf, createChat, forkBranch } from '../../conversations/chats.js';
import { branchView, chatView, messageView } from '../../conversations/views.js';
import { withTransaction } from '../../store/db.js';
import type { Pool } from '../../store/pool.js';
import { branchesOf, deleteChat, listChats, lockChat, renameBranch, updateChat } from '../../store/chats.js';
import { messagesOfBranch } from '../../store/chat-messages.js';
import { findDefaultWorkspace } from '../../store/projects.js';
import { findWorkspace } from '../../store/workspaces.js';
import { authenticateApiKey, hasPermission, projectOf, requirePermission, requireProjectAccess } from '../auth.js';
import { ApiError } from '../errors.js';
import { chatContentRoutes } from './chat-content.js';
import { versionToApply } from '../../templates/templates.js';
import { limitApiKeys, type RateLimitSettings } from '../rate-limits.js';
import { PageQuery, pagedList, ProjectParams, strict, type Page } from '../schemas.js';

const ChatId = Type.String({ pattern: '^chat_[0-9a-f]{24}$' });
const BranchId = Type.String({ pattern: '^branch_[A-Za-z0-9]{24}$' });
const ChatParams = Type.Object({ project_id: ProjectParams.properties.project_id, chat_id: ChatId }, strict);
const BranchParams = Type.Object({ ...ChatParams.properties, branch_id: BranchId }, strict);
type ChatParams = Static<typeof ChatParams>;
type BranchParams = Static<typeof BranchParams>;
const Title = Type.String({ minLength: 1, maxLength: 200 });
const CreateBody = Type.Object(
  {
    title: Type.Optional(Title),
    workspace_id: Type.Optional(Type.String({ pattern: '^ws_[0-9a-f]{12,48}$' })),
    // Opened from a chat template (docs/templates.md): its latest version, pinned.
    template_id: Type.Optional(Type.String({ pattern: '^tpl_[0-9a-f]{24}$' })),
  },
  strict,
);
const PatchBody = Type.Object(
  { title: Type.Optional(Title), archived: Type.Optional(Type.Boolean()) },
  { ...strict, minProperties: 1 },
);
const ListQuery = Type.Object(
  {
    ...PageQuery.properties,
    workspace_id: Type.Optional(Type.String({ pattern: '^ws_[0-9a-f]{12,48}$' })),
    archived: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
    mine: Type.Optional(Type.Literal('true')),
  },
  strict,
);
const ForkBody = Type.Object(
  { from_message_id: Type.String({ pattern: '^msg_[0-9a-f]{24}$' }), display_name: Type.Optional(Title) },
  strict,
);
const RenameBody = Type.Object({ display_name: Title }, strict);
const MessagesQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$' })),
    after: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$' })),
  },
  strict,
);

/**
 * `/:project_id/v1/chats`: conversations (docs/conversations.md). Everyone with access to the
 * project's models reads every chat; only a chat's owner adds to it, renames, archives or forks
 * it; the owner or an admin deletes it. Turns are added by `POST …/v1/responses` with
 * `conversation`.
 */
export function chatRoutes(deps: { readonly pool: Pool; readonly rateLimits?: RateLimitSettings }) {
  const { pool } = deps;
  return async function register(app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticateApiKey({ db: pool }));
    app.addHook('preHandler', requireProjectAccess({ db: pool }));
    app.addHook('preHandler', requirePermission('inference.use', 'inference.use'));
    if (deps.rateLimits) app.addHook('preHandler', limitApiKeys(deps.rateLimits));

    app.post<{ Body: Static<typeof CreateBody> }>('/', { schema: { body: CreateBody } }, async (request, reply) => {
      const project = projectOf(request);
      const workspace = request.body.workspace_id
        ? await findWorkspace(pool, project.id, request.body.workspace_id)
        : await findDefaultWorkspace(pool, project.id);
      if (!workspace) throw new ApiError('workspace_not_found', undefined, 'workspace_id');
      const template = request.body.template_id
        ? await versionToApply(pool, project.id, {
            templateId: request.body.template_id,
            workspaceType: workspace.type,
          })
        : undefined;
      const { chat, branch } = await createChat(pool, {
        ...(template ? { template: { id: template.template_id, version: template.version } } : {}),
        projectId: project.id,
        workspaceId: workspace.id,
        ownerId: request.principal!.principalId,
        ...(request.body.title ? { title: request.body.title } : {}),
      });
      return reply.status(201).send(chatView(chat, [branch]));
    });

    app.get<{ Querystring: Static<typeof ListQuery> }>('/', { schema: { querystring: ListQuery } }, async (request) => {
      const { workspace_id, archived, mine } = request.query;
      return pagedList(
        request.query as Page,
        (page) =>
          listChats(pool, projectOf(request).id, {
            ...page,
            ...(workspace_id ? { workspaceId: workspace_id } : {}),
            ...(archived ? { archived: archived === 'true' } : {}),
            ...(mine ? { ownerId: request.principal!.principalId } : {}),
          }),
        (chat) => chatView(chat),
      );
    });

    app.get<{ Params: ChatParams }>('/:chat_id', { schema: { params: ChatParams } }, async (request) => {
      const chat = await chatOf(pool, projectOf(request).id, request.params.chat_id);
      return chatView(chat, await branchesOf(pool, chat.id));
    });

    app.patch<{ Params: ChatParams; Body: Static<typeof PatchBody> }>(
      '/:chat_id',
      { schema: { params: ChatParams, body: PatchBody } },
      async (request) => {
        const chat = await chatOf(pool, projectOf(request).id, request.params.chat_id);
        assertOwner(chat, request.principal!.principalId);
        const updated = await updateChat(pool, chat.id, request.body);
        return chatView(updated!, await branchesOf(pool, chat.id));
      },
    );

    app.delete<{ Params: ChatParams }>('/:chat_id', { schema: { params: ChatParams } }, async (request, reply) => {
      const chat = await chatOf(pool, projectOf(request).id, request.params.chat_id);
      if (!hasPermission(request, 'manage.write')) assertOwner(chat, request.principal!.principalId);
      await withTransaction(pool, async (client) => {
        await lockChat(client, chat.id);
        await deleteChat(client, chat.id);
      });
      return reply.status(204).send();
    });

    app.get<{ Params: ChatParams }>('/:chat_id/branches', { schema: { params: ChatParams } }, async (request) => {
      const chat = await chatOf(pool, projectOf(request).id, request.params.chat_id);
      return { object: 'list', data: (await branchesOf(pool, chat.id)).map(branchView), has_more: false };
    });

    app.post<{ Params: ChatParams; Body: Static<typeof ForkBody> }>(
      '/:chat_id/branches',
      { schema: { params: ChatParams, body: ForkBody } },
      async (request, reply) => {
        const chat = await ownedChat(pool, request, request.params.chat_id);
        const { from_message_id, display_name } = request.body;
        const branch = await forkBranch(pool, chat, {
          fromMessageId: from_message_id,
          ...(display_name ? { displayName: display_name } : {}),
        });
        return reply.status(201).send(branchView(branch));
      },
    );

    app.patch<{ Params: BranchParams; Body: Static<typeof RenameBody> }>(
      '/:chat_id/branches/:branch_id',
      { schema: { params: BranchParams, body: RenameBody } },
      async (request) => {
        const chat = await ownedChat(pool, request, request.params.chat_id);
        const renamed = await renameBranch(pool, chat.id, request.params.branch_id, request.body.display_name);
        if (!renamed) throw new ApiError('branch_not_found', undefined, 'branch_id');
        return branchView(renamed);
      },
    );

    chatContentRoutes(app, pool);

    app.get<{ Params: BranchParams; Querystring: Static<typeof MessagesQuery> }>(
      '/:chat_id/branches/:branch_id/messages',
      { schema: { params: BranchParams, querystring: MessagesQuery } },
      async (request) => {
        const chat = await chatOf(pool, projectOf(request).id, request.params.chat_id);
        const branch = await branchOf(pool, chat.id, request.params.branch_id);
        const limit = Number(request.query.limit ?? 50);
        const rows = await messagesOfBranch(pool, branch.id, {
          limit: limit + 1,
          after: Number(request.query.after ?? 0),
        });
        const data = rows.slice(0, limit).map(messageView);
        const more = rows.length > limit;
        // The cursor is a sequence number: messages of a branch are ordered by it across forks.
        return { object: 'list', data, has_more: more, next_cursor: more ? String(data.at(-1)!.sequence) : null };
      },
    );
  };
}

async function ownedChat(pool: Pool, request: FastifyRequest, chatId: string) {
  const chat = await chatOf(pool, projectOf(request).id, chatId);
  assertOwner(chat, request.principal!.principalId);
  return chat;
}
