import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { DirSyncer } from './dir-sync.js';

/** Past this many remembered directories the cache starts over (it is only an optimisation). */
const MAX_KNOWN = 10_000;

/**
 * The directories this storage knows to exist, so a put into one skips its `mkdir`, and the
 * directories it created whose entries are not durable yet.
 *
 * A put into a directory that another put has just created must not be acknowledged before that
 * creation is durable (the directory's entry in its parent fsynced), or a power cut could take
 * the directory, and the acknowledged object in it, away: `durable(dir)` gives the pending
 * creations of `dir` and its ancestors to wait for.
 *
 * A directory removed behind the cache's back (by `delete` in another process) shows up as
 * `ENOENT` when the put creates its temp file: the caller then calls `forget` and `ensure` again.
 */
export class KnownDirs {
  readonly #known = new Set<string>();
  /** Created directories → the fsyncs of their parents that make them durable. */
  readonly #creating = new Map<string, Promise<void>>();
  /** Created directories whose parent's fsync failed: the next put into them tries again. */
  readonly #failed = new Set<string>();

  constructor(
    private readonly root: string,
    private readonly syncer: DirSyncer,
  ) {}

  /** Makes sure `dir` exists (mkdir -p unless known); throws mkdir's error. */
  async ensure(dir: string): Promise<void> {
    if (this.#known.has(dir)) return;
    const first = await mkdir(dir, { recursive: true });
    if (first !== undefined) {
      // Each directory created needs its entry in its parent made durable.
      const created: string[] = [];
      for (let d = dir; ; d = path.dirname(d)) {
        created.push(d);
        if (d === first || d === this.root || d === path.dirname(d)) break;
      }
      this.#track(created);
    }
    if (this.#known.size >= MAX_KNOWN) this.#known.clear();
    this.#known.add(dir);
  }

  /** Resolves when the creation of `dir` and of its ancestors (by this storage) is durable. */
  durable(dir: string): Promise<void> | undefined {
    if (this.#creating.size === 0 && this.#failed.size === 0) return undefined;
    const waits: Promise<void>[] = [];
    for (let d = dir; d.startsWith(this.root); d = path.dirname(d)) {
      if (this.#failed.has(d)) this.#track([d]);
      const p = this.#creating.get(d);
      if (p !== undefined && !waits.includes(p)) waits.push(p);
      if (d === this.root) break;
    }
    return waits.length === 0 ? undefined : Promise.all(waits).then(() => {});
  }

  /** Makes the entries of the `created` directories in their parents durable. */
  #track(created: readonly string[]): void {
    for (const d of created) this.#failed.delete(d);
    const done = Promise.all(created.map((d) => this.syncer.sync(path.dirname(d)))).then(() => {});
    for (const d of created) this.#creating.set(d, done);
    const settle = (ok: boolean) => {
      for (const d of created) {
        if (this.#creating.get(d) !== done) continue;
        this.#creating.delete(d);
        if (!ok) this.#failed.add(d);
      }
    };
    done.then(
      () => settle(true),
      () => settle(false),
    );
  }

  /** `dir` was removed (or may have been). */
  forget(dir: string): void {
    this.#known.delete(dir);
    this.#failed.delete(dir);
  }
}
