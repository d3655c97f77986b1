import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from './db.js';

export interface ArtifactRecord {
  readonly id: string;
  readonly project_id: string;
  readonly workspace_id: string;
  readonly chat_id: string | null;
  readonly name: string;
  readonly content_type: string;
  readonly source: 'tool_output' | 'model' | 'api';
  readonly invocation_id: string | null;
  readonly latest_version: number;
  readonly created_by: string | null;
  readonly created_at: Date;
  readonly updated_at: Date;
}

export interface ArtifactVersion {
  readonly artifact_id: string;
  readonly version: number;
  readonly content: string;
  readonly bytes: number;
  readonly lines: number;
  readonly sha256: string;
  readonly created_by: string | null;
  readonly created_at: Date;
}

export const newArtifactId = () => `cart_${randomBytes(12).toString('hex')}`;

/** Byte size, line count and digest of a version's content. */
export function measure(content: string): { bytes: number; lines: number; sha256: string } {
  const bytes = Buffer.byteLength(content);
  const lines = content === '' ? 0 : content.split('\n').length - (content.endsWith('\n') ? 1 : 0);
  return { bytes, lines, sha256: createHash('sha256').update(content).digest('hex') };
}

export async function insertArtifact(
  db: Queryable,
  artifact: Pick<
    ArtifactRecord,
    | 'id'
    | 'project_id'
    | 'workspace_id'
    | 'chat_id'
    | 'name'
    | 'content_type'
    | 'source'
    | 'invocation_id'
    | 'created_by'
  >,
  content: string,
): Promise<{ artifact: ArtifactRecord; version: Omit<ArtifactVersion, 'content'> }> {
  const inserted = await db.query<ArtifactRecord>(
    `INSERT INTO artifacts (id, project_id, workspace_id, chat_id, name, content_type, source, invocation_id, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
    [
      artifact.id,
      artifact.project_id,
      artifact.workspace_id,
      artifact.chat_id,
      artifact.name,
      artifact.content_type,
      artifact.source,
      artifact.invocation_id,
      artifact.created_by,
    ],
  );
  const version = await insertVersion(db, artifact.id, 1, content, artifact.created_by);
  return { artifact: inserted.rows[0]!, version };
}

/** The next version of an artifact (taken under the row's lock, so two writers get two versions). */
export async function addVersion(
  db: Queryable,
  id: string,
  content: string,
  createdBy: string | null,
): Promise<{ artifact: ArtifactRecord; version: Omit<ArtifactVersion, 'content'> } | undefined> {
  const bumped = await db.query<ArtifactRecord>(
    'UPDATE artifacts SET latest_version = latest_version + 1, updated_at = now() WHERE id = $1 RETURNING *',
    [id],
  );
  const artifact = bumped.rows[0];
  if (!artifact) return undefined;
  return { artifact, version: await insertVersion(db, id, artifact.latest_version, content, createdBy) };
}

async function insertVersion(db: Queryable, id: string, version: number, content: string, createdBy: string | null) {
  const { bytes, lines, sha256 } = measure(content);
  const inserted = await db.query<Omit<ArtifactVersion, 'content'>>(
    `INSERT INTO artifact_versions (artifact_id, version, content, bytes, lines, sha256, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     RETURNING artifact_id, version, bytes, lines, sha256, created_by, created_at`,
    [id, version, content, bytes, lines, sha256, createdBy],
  );
  return inserted.rows[0]!;
}

export async function findArtifact(db: Queryable, projectId: string, id: string): Promise<ArtifactRecord | undefined> {
  return (await db.query<ArtifactRecord>('SELECT * FROM artifacts WHERE project_id = $1 AND id = $2', [projectId, id]))
    .rows[0];
}

/** One version with its content (the latest when none is named). */
export async function findVersion(db: Queryable, id: string, version?: number): Promise<ArtifactVersion | undefined> {
  const found = await db.query<ArtifactVersion>(
    `SELECT v.* FROM artifact_versions v JOIN artifacts a ON a.id = v.artifact_id
      WHERE v.artifact_id = $1 AND v.version = coalesce($2, a.latest_version)`,
    [id, version ?? null],
  );
  return found.rows[0];
}

export async function versionsOf(db: Queryable, id: string): Promise<Omit<ArtifactVersion, 'content'>[]> {
  return (
    await db.query<Omit<ArtifactVersion, 'content'>>(
      `SELECT artifact_id, version, bytes, lines, sha256, created_by, created_at FROM artifact_versions
        WHERE artifact_id = $1 ORDER BY version`,
      [id],
    )
  ).rows;
}

export async function artifactsOfChat(db: Queryable, chatId: string, limit: number): Promise<ArtifactRecord[]> {
  return (
    await db.query<ArtifactRecord>('SELECT * FROM artifacts WHERE chat_id = $1 ORDER BY created_at, id LIMIT $2', [
      chatId,
      limit,
    ])
  ).rows;
}
