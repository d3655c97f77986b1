import type { ResponseItem } from '../inference/responses-request.js';
import {
  extractionChat,
  keepLearnings,
  learningsItem,
  learntByModel,
  learntByRule,
  type Learnt,
} from '../knowledge/learnings.js';
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

/** How learnings are drawn from finished turns (the router's `learnings_extractor`). */
export type LearningsExtraction = 'rule' | 'model' | 'off';

/** One finished turn, and the model it ran on (which, with `model`, also extracts from it). */
export interface FinishedTurn {
  readonly projectId: string;
  readonly home: LoopTurn['home'];
  readonly principalId: string;
  readonly responseId: string;
  /** Whether the person may run tools here: only then does what they said teach everyone. */
  readonly mayCurate: boolean;
  readonly endpointId: string;
  readonly model: string;
  readonly tier: string;
}

export interface TurnItems {
  readonly input: readonly ResponseItem[];
  readonly output: readonly ResponseItem[];
}

/** Runs one extraction on the turn's own model and says what it wrote (the router's inference path). */
export type ExtractionRun = (
  turn: FinishedTurn,
  chat: NonNullable<ReturnType<typeof extractionChat>>,
) => Promise<string>;

export interface Learner {
  /** After a turn: the rule's learnings are kept before this resolves; the model's in the background. */
  learn(turn: FinishedTurn, items: TurnItems): Promise<void>;
  /** Waits for extractions still running (the broker's shutdown ends their streams first). */
  close(): Promise<void>;
}

/**
 * What a turn taught, kept in its home workspace. The rule runs before the response is stored, so
 * the next turn can already find it; a model's extraction is a second inference, so it runs after
 * the answer, in the background, and its learnings reach the turns that start after it ends.
 */
export function createLearner(deps: {
  readonly pool: Queryable;
  readonly extraction: LearningsExtraction;
  readonly run?: ExtractionRun;
  readonly warn: (error: unknown, responseId: string) => void;
}): Learner {
  const running = new Set<Promise<void>>();
  const keep = async (turn: FinishedTurn, learnt: readonly Learnt[]) => {
    if (learnt.length > 0)
      await keepLearnings(
        deps.pool,
        { projectId: turn.projectId, workspaceId: turn.home.workspaceId, principalId: turn.principalId },
        learnt,
      );
  };
  const byModel = async (turn: FinishedTurn, items: TurnItems) => {
    const chat = extractionChat({ ...items, mayCurate: turn.mayCurate });
    if (!chat) return;
    await keep(turn, learntByModel(await deps.run!(turn, chat), turn.responseId));
  };
  return {
    async learn(turn, items) {
      if (deps.extraction === 'off') return;
      if (deps.extraction === 'rule' || !deps.run)
        return keep(turn, learntByRule({ ...items, responseId: turn.responseId, mayCurate: turn.mayCurate }));
      const extracting = byModel(turn, items)
        .catch((error: unknown) => deps.warn(error, turn.responseId))
        .finally(() => running.delete(extracting));
      running.add(extracting);
    },
    async close() {
      await Promise.all(running);
    },
  };
}

/** The app's learner, or the rule alone for callers built without one (tests of single routes). */
export function learnerOf(deps: { readonly pool: Queryable; readonly learner?: Learner | undefined }): Learner {
  return deps.learner ?? createLearner({ pool: deps.pool, extraction: 'rule', warn: () => undefined });
}
