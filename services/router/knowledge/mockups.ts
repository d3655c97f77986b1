import { ApiError } from '../http/errors.js';
import { withTransaction } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import { actorOf, appendAudit, type ActingPrincipal } from '../store/audit-log.js';
import {
  findMockup,
  manifestOf,
  mockupFile,
  mockupFiles,
  putMockupFile,
  removeMockupFile,
  touchMockup,
  type MockupRecord,
} from '../store/mockups.js';

/** The most `x_read_mockup` returns inline (bytes of file content). */
export const MOCKUP_INLINE_CAP = 256 * 1024;
/** Files in one bundle at most. */
export const MOCKUP_MAX_FILES = 64;

/** Text formats a preview serves, by extension (nothing else: a bundle is a page, not a file share). */
const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  json: 'application/json',
  svg: 'image/svg+xml',
  txt: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
};

const SAFE_PATH = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}(\/[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}){0,7}$/;

/** A file's content type, or why the path is refused (traversal, hidden files, unknown formats). */
export function fileTypeOf(path: string): string | ApiError {
  if (!SAFE_PATH.test(path) || path.split('/').some((part) => part === '..' || part.startsWith('.')))
    return new ApiError(
      'invalid_parameter',
      `"${path.slice(0, 120)}" is not a relative file path of the bundle`,
      'path',
    );
  const type = TYPES[path.split('.').pop()!.toLowerCase()];
  return type ?? new ApiError('invalid_parameter', `Mockup files are ${Object.keys(TYPES).join(', ')}`, 'path');
}

export interface MockupWhere {
  readonly projectId: string;
  readonly chatId: string;
  readonly identifier: string;
}

export interface MockupFileInput {
  readonly path: string;
  readonly content: string;
}

/**
 * Writes files into a chat's bundle (made on first write; every write a new bundle version),
 * removes others, in one transaction, audited by path and size. `mustExist` for updates.
 */
export async function writeMockup(
  pool: Pool,
  where: MockupWhere,
  change: {
    files: readonly MockupFileInput[];
    remove?: readonly string[];
    title?: string;
    entry?: string;
    mustExist?: boolean;
    mustBeNew?: boolean;
  },
  actor: ActingPrincipal,
): Promise<MockupRecord> {
  const typed = change.files.map((file) => {
    const type = fileTypeOf(file.path);
    if (type instanceof ApiError) throw type;
    return { ...file, content_type: type };
  });
  return withTransaction(pool, async (client) => {
    const existing = await findMockup(client, where);
    if (change.mustExist && !existing)
      throw new ApiError('mockup_not_found', `No mockup "${where.identifier}" in this chat`, 'identifier');
    if (change.mustBeNew && existing)
      throw new ApiError('invalid_parameter', `Mockup "${where.identifier}" exists; update it`, 'identifier');
    const mockup = await touchMockup(client, {
      project_id: where.projectId,
      chat_id: where.chatId,
      identifier: where.identifier,
      created_by: actor.principalId,
      ...(change.title ? { title: change.title } : {}),
      ...(change.entry ? { entry: change.entry } : {}),
    });
    for (const file of typed) await putMockupFile(client, mockup.id, file);
    for (const path of change.remove ?? []) await removeMockupFile(client, mockup.id, path);
    const files = await manifestOf(client, mockup.id);
    if (files.length > MOCKUP_MAX_FILES)
      throw new ApiError('invalid_parameter', `A mockup holds at most ${MOCKUP_MAX_FILES} files`, 'files');
    await appendAudit(client, {
      projectId: where.projectId,
      ...actorOf(actor),
      event: existing ? 'mockup.updated' : 'mockup.created',
      subject: mockup.id,
      detail: {
        chat_id: where.chatId,
        identifier: where.identifier,
        version: mockup.version,
        written: typed.map((file) => ({ path: file.path, bytes: Buffer.byteLength(file.content) })),
        ...(change.remove?.length ? { removed: change.remove } : {}),
      },
    });
    return mockup;
  });
}

export type MockupRead =
  { readonly kind: 'manifest' } | { readonly kind: 'file'; readonly path: string } | { readonly kind: 'bundle' };

/** The manifest, one file, or the whole bundle inline up to MOCKUP_INLINE_CAP (files past it are named, not sent). */
export async function readMockup(pool: Pool, mockup: MockupRecord, read: MockupRead): Promise<Record<string, unknown>> {
  const head = {
    mockup_id: mockup.id,
    identifier: mockup.identifier,
    title: mockup.title,
    entry: mockup.entry,
    version: mockup.version,
  };
  if (read.kind === 'manifest') return { ...head, files: await manifestOf(pool, mockup.id) };
  if (read.kind === 'file') {
    const file = await mockupFile(pool, mockup.id, read.path);
    if (!file) throw new ApiError('mockup_not_found', `No file ${read.path.slice(0, 120)} in this mockup`, 'path');
    const cut = Buffer.byteLength(file.content) > MOCKUP_INLINE_CAP;
    return {
      ...head,
      path: file.path,
      content_type: file.content_type,
      content: cut ? Buffer.from(file.content).subarray(0, MOCKUP_INLINE_CAP).toString('utf8') : file.content,
      ...(cut ? { truncated: true } : {}),
    };
  }
  let budget = MOCKUP_INLINE_CAP;
  const files: { path: string; content: string }[] = [];
  const omitted: string[] = [];
  for (const file of await mockupFiles(pool, mockup.id)) {
    const bytes = Buffer.byteLength(file.content);
    if (bytes > budget) omitted.push(file.path);
    else {
      budget -= bytes;
      files.push({ path: file.path, content: file.content });
    }
  }
  return {
    ...head,
    files,
    ...(omitted.length ? { omitted, note: `past the ${MOCKUP_INLINE_CAP}-byte cap: read these one at a time` } : {}),
  };
}
