/**
 * Picks the least loaded candidate that still has a free slot; ties go to the lowest id so the
 * choice is deterministic. `capacity` is undefined for an agent whose lease did not say yet:
 * it gets one call at a time until it does. Pure; the dispatcher counts as it assigns.
 */
export function chooseAgent(
  candidates: readonly string[],
  inFlight: ReadonlyMap<string, number>,
  capacity: (agentId: string) => number | undefined,
): string | undefined {
  let best: string | undefined;
  let bestLoad = Infinity;
  for (const agentId of [...candidates].sort()) {
    const load = inFlight.get(agentId) ?? 0;
    const slots = capacity(agentId) ?? 1;
    if (load >= slots) continue;
    // Compare by share of capacity used, so a big agent takes proportionally more.
    const share = load / slots;
    if (share < bestLoad) {
      best = agentId;
      bestLoad = share;
    }
  }
  return best;
}
