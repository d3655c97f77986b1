/**
 * What test helpers opened and have not closed yet (router harnesses, spawned processes): the
 * leak check (leak-check.ts) names them when a test file ends with any still open.
 */
const open = new Map<number, string>();
let next = 0;

/** Records something opened; the returned function records it closed. */
export function trackOpen(what: string): () => void {
  const id = (next += 1);
  open.set(id, what);
  return () => void open.delete(id);
}

export function stillOpen(): string[] {
  return [...open.values()];
}
