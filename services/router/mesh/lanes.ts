/**
 * Runs tasks concurrently across lanes and in order within one: an agent's frames about one
 * invocation (accepted, progress, output, result) keep their order, while frames about
 * different invocations do not wait for each other's database writes. At most `limit` tasks
 * are in flight; `room()` lets the receive loop wait instead of piling work up.
 */
export class Lanes {
  private readonly tails = new Map<string, Promise<void>>();
  private inFlight = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly limit = 64) {}

  run(lane: string, task: () => Promise<void>): void {
    this.inFlight += 1;
    const next = (this.tails.get(lane) ?? Promise.resolve())
      .then(task)
      .catch(() => undefined)
      .finally(() => {
        if (this.tails.get(lane) === next) this.tails.delete(lane);
        this.inFlight -= 1;
        this.waiters.shift()?.();
      });
    this.tails.set(lane, next);
  }

  /** Resolves once fewer than `limit` tasks are in flight. */
  async room(): Promise<void> {
    while (this.inFlight >= this.limit) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  get size(): number {
    return this.inFlight;
  }
}
