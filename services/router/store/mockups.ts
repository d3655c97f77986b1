import { randomBytes } from 'node:crypto';
import type { Queryable } from './db.js';

export interface MockupRecord {
  readonly id: string;
  readonly project_id: string;
  readonly chat_id: string;
  readonly identifier: string;
  readonly title: string;
  readonly entry: string;
  readonly version: number;
  readonly preview_token: string;
  readonly created_by: string | null;
  readonly created_at: Date;
  readonly updated_at: Date;
}

export interface MockupFile {
  readonly path: string;
  readonly content: string;
  readonly content_type: string;
  readonly updated_at: Date;
}

export const newMockupId = () => `mock_${randomBytes(12).toString('hex')}`;
export const newPreviewToken = () => randomBytes(32).toString('hex');

/** The bundle of a chat under an identifier, made when first written to (and its version bumped on every write). */
export async function touchMockup(
  db: Queryable,
  mockup: Pick<MockupRecord, 'project_id' | 'chat_id' | 'identifier' | 'created_by'> & {
    title?: string;
    entry?: string;
  },
): Promise<MockupRecord> {
  const upserted = await db.query<MockupRecord>(
    `INSERT INTO mockups (id, project_id, chat_id, identifier, title, entry, preview_token, created_by)
     VALUES ($1, $2, $3, $4, coalesce($5, $4), coalesce($6, 'index.html'), $7, $8)
     ON CONFLICT (chat_id, identifier) DO UPDATE
        SET version = mockups.version + 1, updated_at = now(),
            title = coalesce($5, mockups.title), entry = coalesce($6, mockups.entry)
     RETURNING *`,
    [
      newMockupId(),
      mockup.project_id,
      mockup.chat_id,
      mockup.identifier,
      mockup.title ?? null,
      mockup.entry ?? null,
      newPreviewToken(),
      mockup.created_by,
    ],
  );
  return upserted.rows[0]!;
}

export async function putMockupFile(
  db: Queryable,
  mockupId: string,
  file: Pick<MockupFile, 'path' | 'content' | 'content_type'>,
): Promise<void> {
  await db.query(
    `INSERT INTO mockup_files (mockup_id, path, content, content_type) VALUES ($1, $2, $3, $4)
     ON CONFLICT (mockup_id, path) DO UPDATE SET content = $3, content_type = $4, updated_at = now()`,
    [mockupId, file.path, file.content, file.content_type],
  );
}

export async function removeMockupFile(db: Queryable, mockupId: string, path: string): Promise<boolean> {
  return (
    ((await db.query('DELETE FROM mockup_files WHERE mockup_id = $1 AND path = $2', [mockupId, path])).rowCount ?? 0) >
    0
  );
}

export async function findMockup(
  db: Queryable,
  where: { projectId: string; chatId: string; identifier: string },
): Promise<MockupRecord | undefined> {
  return (
    await db.query<MockupRecord>('SELECT * FROM mockups WHERE project_id = $1 AND chat_id = $2 AND identifier = $3', [
      where.projectId,
      where.chatId,
      where.identifier,
    ])
  ).rows[0];
}

export async function findMockupById(db: Queryable, id: string): Promise<MockupRecord | undefined> {
  return (await db.query<MockupRecord>('SELECT * FROM mockups WHERE id = $1', [id])).rows[0];
}

export async function mockupsOfChat(db: Queryable, chatId: string): Promise<MockupRecord[]> {
  return (await db.query<MockupRecord>('SELECT * FROM mockups WHERE chat_id = $1 ORDER BY created_at, id', [chatId]))
    .rows;
}

/** The manifest: every file's path, type and size, without content. */
export async function manifestOf(
  db: Queryable,
  mockupId: string,
): Promise<{ path: string; content_type: string; bytes: number; updated_at: Date }[]> {
  return (
    await db.query<{ path: string; content_type: string; bytes: number; updated_at: Date }>(
      `SELECT path, content_type, octet_length(content) AS bytes, updated_at FROM mockup_files
        WHERE mockup_id = $1 ORDER BY path`,
      [mockupId],
    )
  ).rows;
}

export async function mockupFile(db: Queryable, mockupId: string, path: string): Promise<MockupFile | undefined> {
  return (
    await db.query<MockupFile>(
      'SELECT path, content, content_type, updated_at FROM mockup_files WHERE mockup_id = $1 AND path = $2',
      [mockupId, path],
    )
  ).rows[0];
}

export async function mockupFiles(db: Queryable, mockupId: string): Promise<MockupFile[]> {
  return (
    await db.query<MockupFile>(
      'SELECT path, content, content_type, updated_at FROM mockup_files WHERE mockup_id = $1 ORDER BY path',
      [mockupId],
    )
  ).rows;
}
