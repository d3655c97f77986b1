import { ApiError } from '../../http/errors.js';
import { readMockup, writeMockup, type MockupRead } from '../../knowledge/mockups.js';
import { findMockup } from '../../store/mockups.js';
import { refusal, text, type Builtin, type BuiltinContext, type BuiltinResult } from './builtin.js';

const Identifier = {
  type: 'string',
  pattern: '^[a-z0-9][a-z0-9-]{0,62}$',
  description: 'The bundle, e.g. "status-page"',
};
const Path = {
  type: 'string',
  maxLength: 800,
  description: 'Relative path in the bundle, e.g. index.html or css/site.css',
};
const FileContent = { type: 'string', maxLength: 1_048_576 };

/** Mockups live in a chat: a turn without one (previous_response_id only) has nowhere to keep them. */
async function inChat(
  context: BuiltinContext,
  run: (chatId: string) => Promise<BuiltinResult>,
): Promise<BuiltinResult> {
  if (!context.home.chatId)
    return refusal('mockups are kept in a chat: continue this conversation with `conversation`');
  try {
    return await run(context.home.chatId);
  } catch (error) {
    if (error instanceof ApiError) return refusal(`${error.code}: ${error.message}`);
    throw error;
  }
}

const ok = (value: Record<string, unknown>): BuiltinResult => ({ output: JSON.stringify(value), error: null });

const addFile: Builtin = {
  name: 'x_add_mockup_file',
  risk: 'write',
  description:
    'Write one file into a mockup bundle (HTML, CSS, JS, SVG, JSON, text), made on first write. Build a mockup one file at a time; the chat previews it in a sandbox.',
  parameters: {
    type: 'object',
    properties: {
      identifier: Identifier,
      path: Path,
      content: FileContent,
      title: { type: 'string', minLength: 1, maxLength: 200 },
    },
    required: ['identifier', 'path', 'content'],
    additionalProperties: false,
  },
  run: (context, args) =>
    inChat(context, async (chatId) => {
      const mockup = await writeMockup(
        context.pool,
        { projectId: context.projectId, chatId, identifier: String(args['identifier']) },
        {
          files: [{ path: String(args['path']), content: String(args['content']) }],
          ...(text(args['title']) ? { title: text(args['title']) } : {}),
        },
        context.requester,
      );
      return ok({
        mockup_id: mockup.id,
        identifier: mockup.identifier,
        version: mockup.version,
        written: args['path'],
      });
    }),
};

const updateMockup: Builtin = {
  name: 'x_update_mockup',
  risk: 'write',
  description: 'Change an existing mockup bundle: write several files, remove some, rename it or set its entry page.',
  parameters: {
    type: 'object',
    properties: {
      identifier: Identifier,
      files: {
        type: 'array',
        maxItems: 16,
        items: {
          type: 'object',
          properties: { path: Path, content: FileContent },
          required: ['path', 'content'],
          additionalProperties: false,
        },
      },
      remove: { type: 'array', items: Path, maxItems: 64 },
      title: { type: 'string', minLength: 1, maxLength: 200 },
      entry: Path,
    },
    required: ['identifier'],
    additionalProperties: false,
  },
  run: (context, args) =>
    inChat(context, async (chatId) => {
      const mockup = await writeMockup(
        context.pool,
        { projectId: context.projectId, chatId, identifier: String(args['identifier']) },
        {
          files: (args['files'] as { path: string; content: string }[] | undefined) ?? [],
          remove: (args['remove'] as string[] | undefined) ?? [],
          ...(text(args['title']) ? { title: text(args['title']) } : {}),
          ...(text(args['entry']) ? { entry: text(args['entry']) } : {}),
          mustExist: true,
        },
        context.requester,
      );
      return ok({ mockup_id: mockup.id, identifier: mockup.identifier, version: mockup.version });
    }),
};

const readMockupTool: Builtin = {
  name: 'x_read_mockup',
  risk: 'read',
  description:
    "Read a mockup bundle of this chat: its manifest (what='manifest'), one file (path), or every file inline (what='bundle', at most 256 KB).",
  parameters: {
    type: 'object',
    properties: { identifier: Identifier, what: { enum: ['manifest', 'file', 'bundle'] }, path: Path },
    required: ['identifier'],
    additionalProperties: false,
  },
  run: (context, args) =>
    inChat(context, async (chatId) => {
      const mockup = await findMockup(context.pool, {
        projectId: context.projectId,
        chatId,
        identifier: String(args['identifier']),
      });
      if (!mockup) return refusal(`no mockup "${String(args['identifier'])}" in this chat`);
      const what = args['path'] !== undefined ? 'file' : text(args['what'], 'manifest');
      if (what === 'file' && typeof args['path'] !== 'string')
        return refusal('invalid_arguments: name the path to read');
      const read: MockupRead =
        what === 'file' ? { kind: 'file', path: String(args['path']) } : { kind: what as 'manifest' | 'bundle' };
      return ok(await readMockup(context.pool, mockup, read));
    }),
};

export const mockupBuiltins: readonly Builtin[] = [addFile, updateMockup, readMockupTool];
