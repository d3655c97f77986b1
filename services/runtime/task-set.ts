/** Work in flight that can be told to stop (an abort) and awaited. */
export interface Task {
  readonly done: Promise<void>;
  stop(): void;
}

/**
 * The calls (XEM) or inference requests (XIM) an agent runs, by key. `drain` is the graceful
 * half of a shutdown: wait up to the grace for everything to finish, then stop what is left and
 * wait for it to say so — a task is never abandoned mid-report.
 */
export class TaskSet<T extends Task> {
  private readonly tasks = new Map<string, T>();

  add(key: string, task: T): void {
    this.tasks.set(key, task);
    void task.done.finally(() => this.tasks.get(key) === task && this.tasks.delete(key));
  }

  get(key: string): T | undefined {
    return this.tasks.get(key);
  }

  has(key: string): boolean {
    return this.tasks.has(key);
  }

  keys(): string[] {
    return [...this.tasks.keys()];
  }

  get size(): number {
    return this.tasks.size;
  }

  async drain(graceMs: number): Promise<void> {
    const all = () => Promise.all([...this.tasks.values()].map((task) => task.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    for (const task of this.tasks.values()) task.stop();
    await all();
  }
}
