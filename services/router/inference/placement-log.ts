const KEEP_MS = 60_000;
const KEEP_PER_AGENT = 4_096;

/**
 * When requests were placed on each agent, by this replica or (heard) by the others. An agent
 * another replica holds is seen with the load of its last heartbeat; the placements since then
 * are load it did not report yet. Counting them keeps many replicas from piling onto the same
 * agent between heartbeats (ends are not told, so this overcounts until the next one).
 */
export class PlacementLog {
  private readonly placed = new Map<string, number[]>();

  record(agentId: string, at: number): void {
    let times = this.placed.get(agentId);
    if (!times) this.placed.set(agentId, (times = []));
    times.push(at);
    let drop = 0;
    while (drop < times.length && (times[drop]! < at - KEEP_MS || times.length - drop > KEEP_PER_AGENT)) drop += 1;
    if (drop > 0) times.splice(0, drop);
  }

  /** Placements on the agent at or after `since`. */
  since(agentId: string, since: number): number {
    const times = this.placed.get(agentId) ?? [];
    let count = 0;
    for (let index = times.length - 1; index >= 0 && times[index]! >= since; index -= 1) count += 1;
    return count;
  }

  forget(agentId: string): void {
    this.placed.delete(agentId);
  }
}
