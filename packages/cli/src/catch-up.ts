/**
 * `consume --exit-at-end`: reached when every read partition this member owns was read up to its
 * end as it was when `consume` started (its high watermark then; later messages are not waited
 * for). A partition counts as read up to pointer offset `p` once the consumer's position there,
 * the next message to process, is at `p` or beyond. Before the consumer has a position in a
 * partition (nothing processed, nothing committed), its start decides: a partition that starts
 * at its end has nothing to read.
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
   * the consumer's next message in a partition, undefined while it has none.
   */
  reached(position: (partition: number) => number | undefined): boolean {
    if (this.#assignment === undefined) return false;
    return this.#assignment.every((p) => {
      const at = position(p) ?? this.#starts.get(p);
      return at !== undefined && at >= (this.#ends.get(p) ?? 0);
    });
  }
}
