import { ApiError } from '../http/errors.js';
import { withTransaction } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import { actorOf, appendAudit, type ActingPrincipal } from '../store/audit-log.js';
import {
  addVersion,
  findArtifact,
  findVersion,
  insertArtifact,
  newArtifactId,
  type ArtifactRecord,
  type ArtifactVersion,
} from '../store/artifacts.js';

/**
 * A tool result larger than this (bytes, UTF-8) goes to the artifact store instead of the
 * model's context; the model gets a summary and the artifact's id. Fixed on purpose (the
 * design calls it non-tunable): a deployment-wide knob would make the same transcript mean
 * different things on different routers.
 */
export const ARTIFACT_THRESHOLD = 16 * 1024;
/** The most one `x_read_artifact` returns (bytes); the rest is read by range. */
export const READ_LIMIT = 16 * 1024;
/** The largest artifact version (bytes). */
export const ARTIFACT_MAX_BYTES = 8 * 1024 * 1024;

export interface ArtifactWhere {
  readonly projectId: string;
  readonly workspaceId: string;
  readonly chatId: string | null;
}

/** What a version's content most likely is: JSON when it parses as an object or array, else text. */
export function contentTypeOf(content: string): string {
  const trimmed = content.trim();
  if (/^[[{]/.test(trimmed)) {
    try {
      JSON.parse(trimmed);
      return 'application/json';
    } catch {
      // not JSON
    }
  }
  return 'text/plain; charset=utf-8';
}

/** A new artifact (version 1), audited (never its content: its size and digest). */
export async function createArtifact(
  pool: Pool,
  where: ArtifactWhere,
  artifact: {
    name: string;
    content: string;
    contentType?: string;
    source: ArtifactRecord['source'];
    invocationId?: string;
  },
  actor: ActingPrincipal,
): Promise<{ artifact: ArtifactRecord; version: Omit<ArtifactVersion, 'content'> }> {
  assertSize(artifact.content);
  return withTransaction(pool, async (client) => {
    const created = await insertArtifact(
      client,
      {
        id: newArtifactId(),
        project_id: where.projectId,
        workspace_id: where.workspaceId,
        chat_id: where.chatId,
        name: artifact.name.slice(0, 200),
        content_type: artifact.contentType ?? contentTypeOf(artifact.content),
        source: artifact.source,
        invocation_id: artifact.invocationId ?? null,
        created_by: actor.principalId,
      },
      artifact.content,
    );
    await audit(client, where.projectId, actor, 'artifact.created', created);
    return created;
  });
}

/** The next version of an artifact in one of these workspaces. */
export async function updateArtifact(
  pool: Pool,
  where: { projectId: string; workspaceIds: ReadonlySet<string> },
  id: string,
  content: string,
  actor: ActingPrincipal,
): Promise<{ artifact: ArtifactRecord; version: Omit<ArtifactVersion, 'content'> }> {
  assertSize(content);
  return withTransaction(pool, async (client) => {
    const found = await findArtifact(client, where.projectId, id);
    if (!found || !where.workspaceIds.has(found.workspace_id))
      throw new ApiError('artifact_not_found', undefined, 'artifact_id');
    const updated = (await addVersion(client, id, content, actor.principalId))!;
    await audit(client, where.projectId, actor, 'artifact.versioned', updated);
    return updated;
  });
}

async function audit(
  client: Parameters<typeof appendAudit>[0],
  projectId: string,
  actor: ActingPrincipal,
  event: string,
  { artifact, version }: { artifact: ArtifactRecord; version: Omit<ArtifactVersion, 'content'> },
) {
  await appendAudit(client, {
    projectId,
    ...actorOf(actor),
    event,
    subject: artifact.id,
    detail: {
      workspace_id: artifact.workspace_id,
      chat_id: artifact.chat_id,
      version: version.version,
      bytes: version.bytes,
      sha256: version.sha256,
      source: artifact.source,
      ...(artifact.invocation_id ? { invocation_id: artifact.invocation_id } : {}),
    },
  });
}

function assertSize(content: string): void {
  if (Buffer.byteLength(content) > ARTIFACT_MAX_BYTES)
    throw new ApiError('invalid_parameter', `An artifact version holds at most ${ARTIFACT_MAX_BYTES} bytes`, 'content');
}

export type ReadRange =
  | { readonly kind: 'whole' }
  | { readonly kind: 'bytes'; readonly offset: number; readonly length?: number }
  | { readonly kind: 'lines'; readonly start: number; readonly end?: number };

/**
 * Part of a version: whole, a byte range or a line range (1-based, inclusive), never more than
 * READ_LIMIT bytes; what is left is said, with where to read on.
 */
export function readPart(version: ArtifactVersion, range: ReadRange): { text: string; more: string | null } {
  const buffer = Buffer.from(version.content);
  if (range.kind === 'lines') {
    const lines = version.content.split('\n');
    const end = Math.min(range.end ?? lines.length, lines.length);
    const picked = lines.slice(range.start - 1, end).join('\n');
    const cut = clip(Buffer.from(picked));
    const rest = end < lines.length ? `lines ${end + 1}-${lines.length} remain` : null;
    return { text: cut.text, more: cut.cut ? `cut at ${READ_LIMIT} bytes; read fewer lines` : rest };
  }
  const offset = range.kind === 'bytes' ? Math.min(range.offset, buffer.length) : 0;
  const want = range.kind === 'bytes' && range.length !== undefined ? range.length : buffer.length - offset;
  const end = Math.min(offset + Math.min(want, READ_LIMIT), buffer.length);
  const text = buffer.subarray(offset, end).toString('utf8');
  return { text, more: end < buffer.length ? `${buffer.length - end} more bytes: read on from offset ${end}` : null };
}

function clip(buffer: Buffer): { text: string; cut: boolean } {
  return buffer.length > READ_LIMIT
    ? { text: buffer.subarray(0, READ_LIMIT).toString('utf8'), cut: true }
    : { text: buffer.toString('utf8'), cut: false };
}

/** What the model is told instead of a large output: where it went, its size, its first and last lines. */
export function artifactSummary(
  artifact: ArtifactRecord,
  version: Omit<ArtifactVersion, 'content'>,
  content: string,
): string {
  const lines = content.split('\n');
  const head = lines.slice(0, 20).join('\n').slice(0, 2_048);
  const tail = lines.length > 25 ? lines.slice(-5).join('\n').slice(-1_024) : '';
  return [
    `[The output (${version.bytes} bytes, ${version.lines} lines) is stored as artifact ${artifact.id} ("${artifact.name}", ${artifact.content_type}), not inlined. Read it with x_read_artifact, whole or by line or byte range.]`,
    'First lines:',
    head,
    ...(tail ? ['…', 'Last lines:', tail] : []),
  ].join('\n');
}

export async function versionOf(
  pool: Pool,
  where: { projectId: string; workspaceIds: ReadonlySet<string> },
  id: string,
  version?: number,
): Promise<{ artifact: ArtifactRecord; version: ArtifactVersion } | undefined> {
  const artifact = await findArtifact(pool, where.projectId, id);
  if (!artifact || !where.workspaceIds.has(artifact.workspace_id)) return undefined;
  const found = await findVersion(pool, id, version);
  return found ? { artifact, version: found } : undefined;
}
