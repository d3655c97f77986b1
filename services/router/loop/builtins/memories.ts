import { recallMemories, saveMemory } from '../../knowledge/memories.js';
import { SEARCH_KINDS as KINDS, searchWorkspace, type SearchKind } from '../../store/workspace-search.js';
import { text, type Builtin } from './builtin.js';

const saveMemoryTool: Builtin = {
  name: 'x_save_memory',
  risk: 'write',
  description:
    'Remember a fact for later conversations in this workspace (a preference, a decision, how something is set up). Returns its id.',
  parameters: {
    type: 'object',
    properties: {
      content: { type: 'string', minLength: 1, maxLength: 8000 },
      tags: { type: 'array', items: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,31}$' }, maxItems: 10 },
    },
    required: ['content'],
    additionalProperties: false,
  },
  async run(context, args) {
    const saved = await saveMemory(
      context.pool,
      { projectId: context.projectId, ...context.home },
      { content: String(args['content']), tags: (args['tags'] as string[] | undefined) ?? [] },
      context.requester,
    );
    return { output: JSON.stringify({ memory_id: saved.id, saved: true }), error: null };
  },
};

const recallMemoryTool: Builtin = {
  name: 'x_recall_memory',
  risk: 'read',
  description: "Recall this workspace's memories that match a query (best first), or the newest ones without a query.",
  parameters: {
    type: 'object',
    properties: {
      query: { type: 'string', maxLength: 1000 },
      limit: { type: 'integer', minimum: 1, maximum: 20 },
    },
    additionalProperties: false,
  },
  async run(context, args) {
    const found = await recallMemories(
      context.pool,
      context.home.workspaceId,
      text(args['query']),
      Number(args['limit'] ?? 5),
    );
    return {
      output: JSON.stringify({ memories: found.map(({ id, content, tags }) => ({ id, content, tags })) }),
      error: null,
    };
  },
};

const workspaceSearchTool: Builtin = {
  name: 'x_workspace_search',
  risk: 'read',
  description:
    'Search this workspace\'s memories, artifacts, chat messages and learnings (web-search syntax: "exact phrase", -exclude, or). Ranked hits with snippets.',
  parameters: {
    type: 'object',
    properties: {
      query: { type: 'string', minLength: 1, maxLength: 1000 },
      kinds: { type: 'array', items: { enum: [...KINDS] }, uniqueItems: true },
      limit: { type: 'integer', minimum: 1, maximum: 25 },
    },
    required: ['query'],
    additionalProperties: false,
  },
  async run(context, args) {
    const hits = await searchWorkspace(context.pool, context.home.workspaceId, String(args['query']), {
      kinds: (args['kinds'] as SearchKind[] | undefined) ?? KINDS,
      limit: Number(args['limit'] ?? 10),
    });
    return {
      output: JSON.stringify({
        hits: hits.map((hit) => ({
          kind: hit.kind,
          id: hit.id,
          ...(hit.chat_id ? { chat_id: hit.chat_id } : {}),
          rank: Math.round(hit.rank * 1000) / 1000,
          snippet: hit.snippet,
        })),
      }),
      error: null,
    };
  },
};

export const memoryBuiltins: readonly Builtin[] = [saveMemoryTool, recallMemoryTool, workspaceSearchTool];
