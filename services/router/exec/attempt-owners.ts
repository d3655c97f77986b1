/** Who holds an invocation's current attempt, as the invocation row says. */
export interface AttemptOwner {
  readonly attempt: number;
  readonly agentId: string | null;
  readonly projectId: string;
}

export interface Reporter {
  readonly id: string;
  readonly projectId: string;
}

/** What a report about (invocation, attempt) from this agent is. */
export type Ownership = 'current' | 'stale_attempt' | 'not_the_dispatched_agent' | 'unknown_invocation';

/**
 * Only the agent that holds the current attempt reports on it. Pure: an earlier attempt is stale
 * whoever sends it; the current one belongs to one agent of one project; a later one does not
 * exist (the caller re-reads the row before believing that).
 */
export function ownershipOf(owner: AttemptOwner | undefined, reporter: Reporter, attempt: number): Ownership {
  if (!owner || attempt > owner.attempt) return 'unknown_invocation';
  if (attempt < owner.attempt) return 'stale_attempt';
  return owner.agentId === reporter.id && owner.projectId === reporter.projectId
    ? 'current'
    : 'not_the_dispatched_agent';
}

/**
 * Attempt owners by invocation, cached: an attempt's owner never changes (a new dispatch is a
 * new attempt number), so a cached owner can only be outdated by a later attempt, and then the
 * row is read again. Progress frames arrive many per call; this keeps their check off the
 * database. Bounded; cleared when full.
 */
export class AttemptOwners {
  private readonly owners = new Map<string, AttemptOwner>();

  constructor(
    private readonly lookup: (invocationId: string) => Promise<AttemptOwner | undefined>,
    private readonly max = 50_000,
  ) {}

  /** The dispatcher writes attempts; it tells the cache so the first report needs no read. */
  note(invocationId: string, owner: AttemptOwner): void {
    if (this.owners.size >= this.max) this.owners.clear();
    this.owners.set(invocationId, owner);
  }

  async check(reporter: Reporter, invocationId: string, attempt: number): Promise<Ownership> {
    const cached = this.owners.get(invocationId);
    const verdict = ownershipOf(cached, reporter, attempt);
    if (verdict !== 'unknown_invocation') return verdict;
    const owner = await this.lookup(invocationId);
    if (owner) this.note(invocationId, owner);
    return ownershipOf(owner, reporter, attempt);
  }
}
