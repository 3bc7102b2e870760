/**
 * Group commit of directory fsyncs: a put's rename is durable once an fsync of its directory
 * that STARTED after the rename has completed. Renames that land while a directory's fsync is
 * running all wait for the one next fsync of that directory, so N concurrent puts into one
 * directory cost about two directory fsyncs instead of N.
 */
export type SyncFn = (dir: string) => Promise<void>;

interface DirState {
  /** The fsync running now. */
  current: Promise<void>;
  /** The fsync that starts when `current` settles; callers arriving during `current` share it. */
  next: Promise<void> | undefined;
}

export class DirSyncer {
  readonly #dirs = new Map<string, DirState>();

  constructor(private readonly fsync: SyncFn) {}

  /**
   * Resolves after an fsync of `dir` that started after this call has completed; rejects with
   * that fsync's error. Call it after the rename (or link, or mkdir) it must make durable.
   */
  sync(dir: string): Promise<void> {
    const st = this.#dirs.get(dir);
    if (st === undefined) return this.#start(dir);
    // The running fsync may have started before the caller's rename: it does not count.
    st.next ??= st.current.then(noop, noop).then(() => this.#start(dir));
    return st.next;
  }

  /** Directories with an fsync running or queued (for tests and introspection). */
  get busy(): number {
    return this.#dirs.size;
  }

  #start(dir: string): Promise<void> {
    const st: DirState = { current: Promise.resolve(), next: undefined };
    this.#dirs.set(dir, st);
    st.current = this.fsync(dir).finally(() => {
      // A queued next fsync replaces this state when it starts; otherwise the directory is idle.
      if (st.next === undefined && this.#dirs.get(dir) === st) this.#dirs.delete(dir);
    });
    return st.current;
  }
}

function noop(): void {}
