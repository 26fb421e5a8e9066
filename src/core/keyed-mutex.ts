// Serializes work per key (e.g. target+account) inside one broker, so that
// reference counting of own-account permissions sees a consistent picture.

export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/** Bounded concurrency per key (e.g. revocations per target). */
export class KeyedSemaphore {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();
  constructor(private readonly limit: number) {}

  /** `fn` learns whether it had to wait for a slot. */
  async run<T>(key: string, fn: (waited: boolean) => Promise<T>): Promise<T> {
    const waited = (this.active.get(key) ?? 0) >= this.limit;
    if (waited) {
      await new Promise<void>((resolve) => {
        const q = this.waiting.get(key) ?? [];
        q.push(resolve);
        this.waiting.set(key, q);
      });
    } else {
      this.active.set(key, (this.active.get(key) ?? 0) + 1);
    }
    try {
      return await fn(waited);
    } finally {
      const next = this.waiting.get(key)?.shift();
      if (next) next();
      else {
        const n = (this.active.get(key) ?? 1) - 1;
        if (n <= 0) this.active.delete(key);
        else this.active.set(key, n);
      }
    }
  }
}
