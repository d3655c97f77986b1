import { ApiError } from '../../http/errors.js';
import { createArtifact, readPart, updateArtifact, versionOf, type ReadRange } from '../../knowledge/artifacts.js';
import { refusal, type Builtin, type BuiltinContext } from './builtin.js';

const ArtifactId = { type: 'string', pattern: '^cart_[0-9a-f]{24}$' };
const Content = { type: 'string', maxLength: 1_000_000 };
const ContentType = {
  type: 'string',
  pattern: '^[a-z]+/[a-z0-9.+-]+$',
  description: 'e.g. text/markdown, text/html, image/svg+xml',
};

const createArtifactTool: Builtin = {
  name: 'x_create_artifact',
  risk: 'write',
  description:
    'Keep a document, script, config or diagram as a versioned artifact of this workspace (the chat lists it; people download it). Returns its id.',
  parameters: {
    type: 'object',
    properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, content: Content, content_type: ContentType },
    required: ['name', 'content'],
    additionalProperties: false,
  },
  async run(context, args) {
    const created = await createArtifact(
      context.pool,
      { projectId: context.projectId, ...context.home },
      {
        name: String(args['name']),
        content: String(args['content']),
        ...(typeof args['content_type'] === 'string' ? { contentType: args['content_type'] } : {}),
        source: 'model',
      },
      context.requester,
    );
    return { output: JSON.stringify(describe(created)), error: null };
  },
};

const updateArtifactTool: Builtin = {
  name: 'x_update_artifact',
  risk: 'write',
  description: 'Write a new version of an artifact (the earlier versions stay readable).',
  parameters: {
    type: 'object',
    properties: { artifact_id: ArtifactId, content: Content },
    required: ['artifact_id', 'content'],
    additionalProperties: false,
  },
  async run(context, args) {
    try {
      const updated = await updateArtifact(
        context.pool,
        scopeOf(context),
        String(args['artifact_id']),
        String(args['content']),
        context.requester,
      );
      return { output: JSON.stringify(describe(updated)), error: null };
    } catch (error) {
      if (error instanceof ApiError) return refusal(`${error.code}: no artifact ${String(args['artifact_id'])} here`);
      throw error;
    }
  },
};

const readArtifactTool: Builtin = {
  name: 'x_read_artifact',
  risk: 'read',
  description:
    'Read an artifact (its latest version unless one is named): whole, a line range (start_line, end_line; 1-based, inclusive) or a byte range (offset, length). At most 16 KiB per read; the answer says what remains.',
  parameters: {
    type: 'object',
    properties: {
      artifact_id: ArtifactId,
      version: { type: 'integer', minimum: 1 },
      start_line: { type: 'integer', minimum: 1 },
      end_line: { type: 'integer', minimum: 1 },
      offset: { type: 'integer', minimum: 0 },
      length: { type: 'integer', minimum: 1 },
    },
    required: ['artifact_id'],
    additionalProperties: false,
  },
  async run(context, args) {
    const id = String(args['artifact_id']);
    const found = await versionOf(
      context.pool,
      scopeOf(context),
      id,
      typeof args['version'] === 'number' ? args['version'] : undefined,
    );
    if (!found)
      return refusal(
        `no artifact ${id}${typeof args['version'] === 'number' ? ` version ${args['version']}` : ''} here`,
      );
    const range = rangeOf(args);
    if (typeof range === 'string') return refusal(range);
    const part = readPart(found.version, range);
    const head = `${id} v${found.version.version} (${found.version.bytes} bytes, ${found.version.lines} lines)`;
    return { output: `${head}\n${part.text}${part.more ? `\n[${part.more}]` : ''}`, error: null };
  },
};

export const artifactBuiltins: readonly Builtin[] = [createArtifactTool, updateArtifactTool, readArtifactTool];

const scopeOf = (context: BuiltinContext) => ({ projectId: context.projectId, workspaceIds: context.workspaceIds });

function rangeOf(args: Record<string, unknown>): ReadRange | string {
  const lines = args['start_line'] !== undefined || args['end_line'] !== undefined;
  const bytes = args['offset'] !== undefined || args['length'] !== undefined;
  if (lines && bytes) return 'invalid_arguments: read by lines or by bytes, not both';
  if (lines) {
    const start = Number(args['start_line'] ?? 1);
    const end = args['end_line'] === undefined ? undefined : Number(args['end_line']);
    if (end !== undefined && end < start) return 'invalid_arguments: end_line is before start_line';
    return { kind: 'lines', start, ...(end !== undefined ? { end } : {}) };
  }
  if (bytes)
    return {
      kind: 'bytes',
      offset: Number(args['offset'] ?? 0),
      ...(args['length'] !== undefined ? { length: Number(args['length']) } : {}),
    };
  return { kind: 'whole' };
}

function describe({
  artifact,
  version,
}: {
  artifact: { id: string; name: string; content_type: string };
  version: { version: number; bytes: number; sha256: string };
}) {
  return {
    artifact_id: artifact.id,
    name: artifact.name,
    content_type: artifact.content_type,
    version: version.version,
    bytes: version.bytes,
    sha256: version.sha256,
  };
}
