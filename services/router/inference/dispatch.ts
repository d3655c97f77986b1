import { inSpan, type TraceCarrier } from '../../runtime/tracing.js';
import { randomBytes } from 'node:crypto';
import { prefixHashes } from './prefix-hash.js';
import { PlacementLog } from './placement-log.js';
import { PrefixIndex } from './prefix-index.js';
import { chooseWorker, DEFAULT_TUNING, type RoutingMemory, type Tuning, type WorkerView } from './scheduler.js';
import { promptText, type EngineChat } from './chat-request.js';
import type { StreamBroker, StreamEvent } from './streams.js';

/** Where candidates come from (workers.ts; a fixed list in tests). */
export interface CandidateSource {
  views(projectId: string): Promise<WorkerView[]>;
}

export interface InferenceTarget {
  readonly projectId: string;
  readonly model: string;
  readonly tier?: string;
  readonly chat: EngineChat;
  readonly promptCacheKey?: string;
  /** The request's trace context: the agent's run continues it. */
  readonly trace?: TraceCarrier;
}

/** Shares placements with the other replicas (fleet/routing-notes.ts), so each knows what every agent caches. */
export interface PlacementGossip {
  told(agentId: string, hashes: readonly number[], promptCacheKey: string | undefined): void;
}

/** A stream whose first report is in: chunks are coming, or it ended at once. */
export interface StartedInference {
  readonly requestId: string;
  readonly agentId: string;
  readonly first: StreamEvent;
  readonly rest: AsyncIterator<StreamEvent>;
}

/** Why no stream started: nothing serves the model, all full, or every attempt failed. */
export class InferenceRefused extends Error {
  override readonly name = 'InferenceRefused';
  constructor(
    readonly reason: 'no_worker_for_model' | 'no_capacity' | 'failed',
    message: string,
  ) {
    super(message);
  }
}

// The agent itself refuses past its slots; the router keeps within them.
const LIVE_TUNING: Tuning = { ...DEFAULT_TUNING, queueAllowance: 0 };
const MAX_ATTEMPTS = 3;
const INDEX_BLOCKS_PER_WORKER = 65_536;
const STICKY_KEYS = 10_000;

/**
 * Places one inference: the scheduler picks among the fleet's XIM agents for the project (this
 * router's own and those other replicas hold), the stream opens there (forwarded when remote), and until its first report arrives a refusal the agent calls retryable
 * (slots full, engine down, agent gone) moves it to another agent. After that the caller owns it.
 */
export class InferenceDispatch {
  private readonly index = new PrefixIndex(() => INDEX_BLOCKS_PER_WORKER);
  private readonly sticky = new Map<string, string>();
  /** Placements by time, this replica's and heard ones: load remote agents did not report yet. */
  readonly placements = new PlacementLog();
  private readonly memory: RoutingMemory = {
    matched: (workerId, hashes) => this.index.matched(workerId, hashes),
    stickyWorker: (key) => this.sticky.get(key),
  };

  constructor(
    private readonly directory: CandidateSource,
    private readonly broker: StreamBroker,
    private readonly gossip?: PlacementGossip,
  ) {}

  async start(target: InferenceTarget): Promise<StartedInference> {
    const hashes = prefixHashes(promptText(target.chat), target.model, target.projectId);
    const tried = new Set<string>();
    let lastError = 'no attempt was made';
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const workers = (await this.directory.views(target.projectId)).filter((worker) => !tried.has(worker.id));
      const choice = chooseWorker(
        workers,
        {
          model: target.model,
          ...(target.tier ? { tier: target.tier } : {}),
          prefixHashes: hashes,
          ...(target.promptCacheKey ? { promptCacheKey: target.promptCacheKey } : {}),
        },
        this.memory,
        LIVE_TUNING,
      );
      if (!choice.ok) {
        if (tried.size > 0) break;
        throw new InferenceRefused(
          choice.reason,
          choice.reason === 'no_capacity'
            ? `every XIM agent serving ${target.model} is at capacity`
            : `no connected XIM agent serves ${target.model} now`,
        );
      }
      tried.add(choice.workerId);
      const via = workers.find((worker) => worker.id === choice.workerId)?.via;
      const started = await this.open(choice.workerId, target, via);
      if (started.first.kind !== 'error' || !started.first.retryable) {
        this.remember(choice.workerId, hashes, target.promptCacheKey);
        this.gossip?.told(choice.workerId, hashes, target.promptCacheKey);
        return started;
      }
      lastError = started.first.message;
    }
    throw new InferenceRefused('failed', `no XIM agent could take the request: ${lastError}`);
  }

  /** Another replica placed a prompt on this agent: its blocks are now the agent's most recent. */
  learn(agentId: string, hashes: readonly number[], promptCacheKey?: string): void {
    this.remember(agentId, hashes, promptCacheKey);
  }

  /** An agent left: what the router believed it cached is gone with it. */
  forget(agentId: string): void {
    this.index.forget(agentId);
    this.placements.forget(agentId);
  }

  private async open(agentId: string, target: InferenceTarget, via: string | undefined): Promise<StartedInference> {
    const requestId = `inf_${randomBytes(12).toString('hex')}`;
    const body = {
      request_id: requestId,
      project_id: target.projectId,
      model: target.model,
      request: target.chat as Record<string, unknown>,
    };
    const stream = await inSpan(
      'infer.dispatch',
      target.trace,
      (trace) => this.broker.open(agentId, body, trace, via),
      {
        'xerotier.agent_id': agentId,
        ...(via ? { 'xerotier.via_replica': via } : {}),
        'xerotier.model': target.model,
      },
    );
    const rest = stream[Symbol.asyncIterator]();
    const first = await rest.next();
    return {
      requestId,
      agentId,
      first: first.done
        ? { kind: 'error', code: 'empty_stream', message: 'the stream ended without a report', retryable: true }
        : first.value,
      rest,
    };
  }

  private remember(agentId: string, hashes: readonly number[], promptCacheKey: string | undefined): void {
    this.index.record(agentId, hashes);
    this.placements.record(agentId, Date.now());
    if (promptCacheKey === undefined) return;
    this.sticky.delete(promptCacheKey);
    this.sticky.set(promptCacheKey, agentId);
    if (this.sticky.size > STICKY_KEYS) this.sticky.delete(this.sticky.keys().next().value!);
  }
}
