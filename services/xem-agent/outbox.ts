import type { TraceCarrier } from '../protocol/frame.js';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** A frame waiting for the router's ack, exactly as it will be (re)sent. */
export interface OutboxFrame {
  readonly frameId: string;
  readonly type: string;
  readonly body: Record<string, unknown>;
  /** The trace the call ran in: the router's handling of the frame continues it. */
  readonly trace?: TraceCarrier;
}

/** An outbox frame with its place in the queue. */
export interface PendingFrame extends OutboxFrame {
  readonly seq: number;
}

export interface DispatchKey {
  readonly invocation_id: string;
  readonly attempt: number;
}

/** A dispatch a previous process left running, with the process group it had started, if any. */
export interface UnfinishedDispatch extends DispatchKey {
  readonly pgid: number | null;
  /** The group leader's start time (clock ticks since boot), so a reused pid is never taken for it. */
  readonly started_ticks: string | null;
}

export interface Outbox {
  /** Remembers a dispatch; false when this invocation attempt was seen before (never run twice). */
  claim(dispatch: DispatchKey, now: number): boolean;
  /** Marks the dispatch finished and queues its final frames (last progress, result), in one transaction. */
  finish(dispatch: DispatchKey, ...frames: OutboxFrame[]): void;
  /** Frames not yet acknowledged, oldest first; with `afterSeq`, only those queued after it. */
  pending(afterSeq?: number): PendingFrame[];
  /** How many frames await an acknowledgement (without reading them). */
  pendingCount(): number;
  /** The router acknowledged these frames: they are gone for good (one transaction). */
  acknowledged(...frameIds: string[]): void;
  /** Notes the process group a running dispatch started, so a later start can stop it. */
  started(dispatch: DispatchKey, pgid: number, startedTicks: string | null): void;
  /** Dispatches a previous process claimed and never finished: it died while they ran. */
  unfinished(): UnfinishedDispatch[];
  /** Forgets finished dispatches older than this (the router never redelivers that late). */
  prune(olderThan: number): void;
  close(): void;
}

const BASE_SCHEMA = `
CREATE TABLE IF NOT EXISTS dispatches (
  invocation_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  finished INTEGER NOT NULL DEFAULT 0,
  received_at INTEGER NOT NULL,
  pgid INTEGER,
  started_ticks TEXT,
  PRIMARY KEY (invocation_id, attempt)
);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  frame_id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  body TEXT NOT NULL
);`;

/**
 * Schema steps, numbered by SQLite's user_version: a file written by any older agent is brought
 * up to date in order, each step in its own transaction. Step 1 also adopts files from before
 * the numbering (their tables exist, maybe without the process-group columns).
 */
const STEPS: readonly ((db: Database.Database) => void)[] = [
  (db) => {
    db.exec(BASE_SCHEMA);
    const columns = new Set(
      db
        .prepare<[], { name: string }>('PRAGMA table_info(dispatches)')
        .all()
        .map((column) => column.name),
    );
    if (!columns.has('pgid'))
      db.exec('ALTER TABLE dispatches ADD COLUMN pgid INTEGER; ALTER TABLE dispatches ADD COLUMN started_ticks TEXT;');
  },
  (db) => db.exec('ALTER TABLE outbox ADD COLUMN trace TEXT'),
];

function upgrade(db: Database.Database): void {
  for (let version = db.pragma('user_version', { simple: true }) as number; version < STEPS.length; version += 1) {
    db.transaction(() => {
      STEPS[version]!(db);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}

/**
 * The XEM agent's durable state (SQLite at XEM_QUEUE_DB_PATH, WAL, synchronous=FULL): which
 * dispatches it has seen, and the result frames the router has not acknowledged yet. A result
 * is on disk before it is sent and leaves only on the router's ack, so neither an agent crash
 * nor a router crash loses or duplicates it; a dispatch claimed but never finished is what a
 * crash interrupted, and is reported as such rather than run again.
 */
export function openOutbox(path: string): Outbox {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  upgrade(db);
  const statements = {
    claim: db.prepare('INSERT OR IGNORE INTO dispatches (invocation_id, attempt, received_at) VALUES (?, ?, ?)'),
    finish: db.prepare('UPDATE dispatches SET finished = 1 WHERE invocation_id = ? AND attempt = ?'),
    enqueue: db.prepare('INSERT OR IGNORE INTO outbox (frame_id, type, body, trace) VALUES (?, ?, ?, ?)'),
    pending: db.prepare<[number], { seq: number; frame_id: string; type: string; body: string; trace: string | null }>(
      'SELECT seq, frame_id, type, body, trace FROM outbox WHERE seq > ? ORDER BY seq',
    ),
    pendingCount: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM outbox'),
    acknowledged: db.prepare('DELETE FROM outbox WHERE frame_id = ?'),
    started: db.prepare('UPDATE dispatches SET pgid = ?, started_ticks = ? WHERE invocation_id = ? AND attempt = ?'),
    unfinished: db.prepare<[], UnfinishedDispatch>(
      'SELECT invocation_id, attempt, pgid, started_ticks FROM dispatches WHERE finished = 0 ORDER BY received_at',
    ),
    prune: db.prepare('DELETE FROM dispatches WHERE finished = 1 AND received_at < ?'),
  };
  const finish = db.transaction((dispatch: DispatchKey, frames: OutboxFrame[]) => {
    statements.finish.run(dispatch.invocation_id, dispatch.attempt);
    for (const frame of frames)
      statements.enqueue.run(
        frame.frameId,
        frame.type,
        JSON.stringify(frame.body),
        frame.trace ? JSON.stringify(frame.trace) : null,
      );
  });
  // Losing an acknowledgement to a crash only means the router hears a duplicate: one
  // transaction (one fsync) for many.
  const acknowledge = db.transaction((frameIds: string[]) => {
    for (const frameId of frameIds) statements.acknowledged.run(frameId);
  });
  return {
    claim: (dispatch, now) => statements.claim.run(dispatch.invocation_id, dispatch.attempt, now).changes === 1,
    finish: (dispatch, ...frames) => finish(dispatch, frames),
    pending: (afterSeq = 0) =>
      statements.pending.all(afterSeq).map((row) => ({
        seq: row.seq,
        frameId: row.frame_id,
        type: row.type,
        body: JSON.parse(row.body) as Record<string, unknown>,
        ...(row.trace ? { trace: JSON.parse(row.trace) as TraceCarrier } : {}),
      })),
    pendingCount: () => statements.pendingCount.get()!.n,
    acknowledged: (...frameIds) => void acknowledge(frameIds),
    started: (dispatch, pgid, startedTicks) =>
      void statements.started.run(pgid, startedTicks, dispatch.invocation_id, dispatch.attempt),
    unfinished: () => statements.unfinished.all(),
    prune: (olderThan) => void statements.prune.run(olderThan),
    close: () => db.close(),
  };
}
