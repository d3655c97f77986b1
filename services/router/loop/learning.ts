import type { ResponseItem } from '../inference/responses-request.js';
import { keepLearnings, learningsItem, learntByRule } from '../knowledge/learnings.js';
import type { Queryable } from '../store/db.js';
import type { LoopTurn } from './run-loop.js';
import type { OfferedServer } from './servers.js';

/** The workspaces a turn's learnings come from: its home one and those it offers. */
function workspacesOf(servers: readonly OfferedServer[], home: LoopTurn['home']): string[] {
  return [
    ...new Set([
      home.workspaceId,
      ...servers.flatMap((server) => (server.kind === 'workspace' ? [server.workspaceId] : [])),
    ]),
  ];
}

/** The retriever a loop runs before each model turn. */
export function recallFor(
  db: Queryable,
  servers: readonly OfferedServer[],
  home: LoopTurn['home'],
): NonNullable<LoopTurn['recall']> {
  const workspaces = workspacesOf(servers, home);
  return (items) => learningsItem(db, workspaces, items);
}

/**
 * After a turn: what it taught (its workspace calls, the person's standing instructions), kept in
 * its home workspace before the response is stored, so the next turn can already find it.
 */
export async function learnFrom(
  db: Queryable,
  turn: { projectId: string; home: LoopTurn['home']; principalId: string; responseId: string; mayCurate: boolean },
  items: { input: readonly ResponseItem[]; output: readonly ResponseItem[] },
): Promise<void> {
  const learnt = learntByRule({ ...items, responseId: turn.responseId, mayCurate: turn.mayCurate });
  if (learnt.length > 0)
    await keepLearnings(
      db,
      { projectId: turn.projectId, workspaceId: turn.home.workspaceId, principalId: turn.principalId },
      learnt,
    );
}
