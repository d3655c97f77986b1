import { afterAll, beforeAll } from 'vitest';
import { stillOpen } from './open-resources.js';

/**
 * Runs around every test file (vitest `setupFiles`): after the file's own hooks, it fails the
 * file if anything is still open — a router harness not closed, a spawned process (or a process
 * in its group) still alive, or more sockets, servers, pipes or child processes keeping the
 * event loop alive than before the file started. Closing is asynchronous (a socket leaves the
 * list a tick after `close()`, a killed process exits later), so it waits for things to settle,
 * up to a deadline, before it judges.
 */
const WATCHED = new Set([
  'TCPSocketWrap',
  'TCPServerWrap',
  'PipeWrap',
  'PipeServerWrap',
  'ProcessWrap',
  'UDPWrap',
  'TTYWrap',
]);
const SETTLE_MS = 5_000;
let baseline = new Map<string, number>();

beforeAll(() => {
  baseline = handleCounts();
});

afterAll(async () => {
  const deadline = Date.now() + SETTLE_MS;
  let leaks = currentLeaks();
  while (leaks.length > 0 && Date.now() < deadline) {
    // Polled: handles and process exits have no event that says "all closed now".
    await new Promise((resolve) => setTimeout(resolve, 50));
    leaks = currentLeaks();
  }
  if (leaks.length > 0) throw new Error(`test file left open: ${leaks.join('; ')}`);
});

function currentLeaks(): string[] {
  const now = handleCounts();
  const handles = [...now].flatMap(([type, count]) =>
    count > (baseline.get(type) ?? 0) ? [`${count - (baseline.get(type) ?? 0)} × ${type}`] : [],
  );
  return [...stillOpen(), ...handles];
}

function handleCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo())
    if (WATCHED.has(type)) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}
