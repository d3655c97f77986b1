import { findDefaultWorkspace } from '../store/projects.js';
import type { Queryable } from '../store/db.js';
import type { LoopTurn } from './run-loop.js';
import type { OfferedServer } from './servers.js';
import { forkEvent, type ContextFork } from '../conversations/auto-fork.js';

/** Where a turn's built-ins write: its chat's workspace, else the first workspace it offers, else the project's default. */
export async function homeOf(
  db: Queryable,
  projectId: string,
  servers: readonly OfferedServer[],
  chat: { id: string; workspace_id: string } | undefined,
): Promise<LoopTurn['home']> {
  if (chat) return { workspaceId: chat.workspace_id, chatId: chat.id };
  const offered = servers.find((server) => server.kind === 'workspace');
  if (offered?.kind === 'workspace') return { workspaceId: offered.workspaceId, chatId: null };
  return { workspaceId: (await findDefaultWorkspace(db, projectId))!.id, chatId: null };
}

/**
 * The loop's auto-fork hook for a turn kept in a chat: forks (once), tells opted-in clients with
 * `x_context_fork`, and reports the branch the turn now goes on.
 */
export function autoForkHook(
  turn: { emit: LoopTurn['emit']; translator: LoopTurn['translator']; execEvents: boolean },
  fork: (call: { tool: string; invocationId: string }) => Promise<ContextFork | undefined>,
  onFork: (fork: ContextFork) => void = () => undefined,
): NonNullable<LoopTurn['forkBeforeIrreversible']> {
  return async (call) => {
    const forked = await fork(call);
    if (!forked) return;
    onFork(forked);
    if (turn.execEvents) turn.emit([turn.translator.loopEvent('x_context_fork', forkEvent(forked, call))]);
  };
}
