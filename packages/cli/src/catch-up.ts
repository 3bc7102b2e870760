/**
 * `consume --exit-at-end`: reached when every read partition this member owns was read up to its
 * end as it was when `consume` started (its high watermark then; later messages are not waited
 * for). A partition counts as read up to pointer offset `p` once the consumer's position there,
 * the next message to process, is at `p` or beyond. Before the consumer has a position in a
 * partition (nothing processed, nothing committed), its start decides: a partition that starts
 * at its end has nothing to read. Where the high watermark is above the last pointer (Kafka
 * transaction markers on a clustered topic), the partition's tail as its pointer fetches found
 * it (`TailWatch`) is its end too.
 */
export class CatchUp {
  readonly #ends: ReadonlyMap<number, number>;
  readonly #starts = new Map<number, number>();
  #assignment: readonly number[] | undefined;

  /** `ends`: the high watermark of every read partition when consume started. */
  constructor(ends: ReadonlyMap<number, number>) {
    this.#ends = ends;
  }

  /** The partitions this member owns now. */
  assigned(partitions: readonly number[]): void {
    this.#assignment = [...partitions];
  }

  /** Reading `partition` starts at pointer `offset` (its committed position, or where the start policy says). */
  startsAt(partition: number, offset: number): void {
    this.#starts.set(partition, offset);
  }

  /**
   * Whether every owned partition was read up to its end. `position` is the pointer offset of
   * the consumer's next message in a partition, undefined while it has none; `tail`, where a
   * partition's pointers end when fetches found no more of them (undefined while more may come).
   */
  reached(
    position: (partition: number) => number | undefined,
    tail: (partition: number) => number | undefined = () => undefined,
  ): boolean {
    if (this.#assignment === undefined) return false;
    return this.#assignment.every((p) => {
      const at = position(p) ?? this.#starts.get(p);
      if (at === undefined) return false;
      if (at >= (this.#ends.get(p) ?? 0)) return true;
      const last = tail(p);
      return last !== undefined && at >= last;
    });
  }
}
