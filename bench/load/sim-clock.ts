/**
 * Simulated time for the load harness: `now()` is simulated milliseconds,
 * and `sleep` waits in simulated time. The clock moves only when every task
 * it runs is asleep, straight to the earliest wake-up; a task doing real work
 * (an HTTP call to the stand-in, a DynamoDB write to dynalite) holds it still.
 * So an hour of throttled retries takes the seconds of real work it contains,
 * and the simulated figures do not depend on how fast the machine is.
 */
import type { Clock } from '../../engine/pacing.js';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly wake: () => void;
}

export class SimClock implements Clock {
  private time = 0;
  private seq = 0;
  /** Tasks that are not asleep. */
  private awake = 0;
  private readonly timers: Timer[] = [];
  private advancing = false;

  now(): number {
    return this.time;
  }

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.timers.push({ at: this.time + Math.max(0, ms), seq: this.seq++, wake: resolve });
      this.awake -= 1;
      this.advanceWhenIdle();
    });
  }

  /** Runs `work` as a task of this clock: while it is awake, simulated time stands still. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    this.awake += 1;
    try {
      return await work();
    } finally {
      this.awake -= 1;
      this.advanceWhenIdle();
    }
  }

  private advanceWhenIdle(): void {
    if (this.advancing) return;
    this.advancing = true;
    // Let pending callbacks run first: a task may be about to wake up on its own (an answer arriving).
    setImmediate(() => {
      this.advancing = false;
      if (this.awake > 0 || this.timers.length === 0) return;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const first = this.timers[0];
      if (!first) return;
      this.time = Math.max(this.time, first.at);
      const due = this.timers.filter((timer) => timer.at <= this.time);
      this.timers.splice(0, due.length);
      this.awake += due.length;
      for (const timer of due) timer.wake();
    });
  }
}
