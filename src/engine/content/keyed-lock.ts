/**
 * An in-process mutex per key: `run(key, fn)` waits for every earlier holder of `key`.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** True while some call holds or waits for `key`. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    try {
      await prev;
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
