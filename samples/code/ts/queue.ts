/**
 * An async work queue with bounded concurrency.
 *
 * Tasks are functions returning promises. At most `concurrency` tasks run at
 * once; the rest wait in FIFO order. `onIdle()` resolves when the queue is
 * empty and nothing is running.
 */

export type Task<T> = () => Promise<T>;

interface Pending<T> {
  task: Task<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

export interface QueueStats {
  running: number;
  waiting: number;
  completed: number;
  failed: number;
}

export class AsyncQueue {
  private readonly waiting: Pending<unknown>[] = [];
  private running = 0;
  private completed = 0;
  private failed = 0;
  private paused = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly concurrency: number = 4) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    }
  }

  /** Enqueue a task; the returned promise settles with the task's result. */
  add<T>(task: Task<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ task, resolve, reject } as Pending<unknown>);
      this.pump();
    });
  }

  /** Enqueue many tasks and wait for all of them, preserving order. */
  addAll<T>(tasks: Iterable<Task<T>>): Promise<T[]> {
    return Promise.all(Array.from(tasks, (t) => this.add(t)));
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.pump();
  }

  /** Drop all tasks that have not started yet, rejecting their promises. */
  clear(reason: unknown = new Error("queue cleared")): number {
    const dropped = this.waiting.splice(0, this.waiting.length);
    for (const p of dropped) p.reject(reason);
    this.checkIdle();
    return dropped.length;
  }

  onIdle(): Promise<void> {
    if (this.running === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  get stats(): QueueStats {
    return {
      running: this.running,
      waiting: this.waiting.length,
      completed: this.completed,
      failed: this.failed,
    };
  }

  private pump(): void {
    while (!this.paused && this.running < this.concurrency && this.waiting.length > 0) {
      const next = this.waiting.shift()!;
      this.running += 1;
      // Wrap in Promise.resolve().then so synchronous throws become rejections.
      Promise.resolve()
        .then(next.task)
        .then(
          (value) => {
            this.completed += 1;
            next.resolve(value);
          },
          (err) => {
            this.failed += 1;
            next.reject(err);
          },
        )
        .finally(() => {
          this.running -= 1;
          this.pump();
          this.checkIdle();
        });
    }
  }

  private checkIdle(): void {
    if (this.running === 0 && this.waiting.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((w) => w());
    }
  }
}

// Example:
//   const q = new AsyncQueue(2);
//   const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
//   const results = await q.addAll([1, 2, 3].map((n) => async () => { await sleep(10 * n); return n * n; }));
//   // results => [1, 4, 9]
