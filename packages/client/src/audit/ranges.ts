/** An inclusive range of producer sequence numbers. */
export interface SeqRange {
  readonly first: number;
  readonly last: number;
}

/** Sequence numbers in `ranges` (which must not overlap). */
export function countOf(ranges: readonly SeqRange[]): number {
  let n = 0;
  for (const r of ranges) n += r.last - r.first + 1;
  return n;
}

/** The ranges sorted and merged where they overlap or touch. */
export function union(ranges: readonly SeqRange[]): SeqRange[] {
  return atDepth(ranges, 1);
}

/**
 * The sequences covered by at least `depth` of the given ranges, as sorted merged ranges:
 * depth 1 is the union, depth 2 the sequences covered more than once (duplicates).
 */
export function atDepth(ranges: readonly SeqRange[], depth: number): SeqRange[] {
  // Sweep: +1 where a range starts, -1 after it ends.
  const events: [at: number, delta: number][] = [];
  for (const r of ranges) {
    if (r.last < r.first) continue;
    events.push([r.first, 1], [r.last + 1, -1]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: SeqRange[] = [];
  let level = 0;
  let start = 0;
  let i = 0;
  while (i < events.length) {
    const at = events[i]![0];
    const before = level;
    while (i < events.length && events[i]![0] === at) level += events[i++]![1];
    if (before < depth && level >= depth) start = at;
    else if (before >= depth && level < depth) push(out, { first: start, last: at - 1 });
  }
  return out;
}

/** The sequences of `from` that are not in `minus` (both sorted and merged, as `union` returns). */
export function subtract(from: readonly SeqRange[], minus: readonly SeqRange[]): SeqRange[] {
  const out: SeqRange[] = [];
  let j = 0;
  for (const r of from) {
    let first = r.first;
    while (j < minus.length && minus[j]!.last < first) j++;
    let k = j;
    while (k < minus.length && minus[k]!.first <= r.last) {
      const m = minus[k]!;
      if (m.first > first) out.push({ first, last: m.first - 1 });
      first = Math.max(first, m.last + 1);
      k++;
    }
    if (first <= r.last) out.push({ first, last: r.last });
  }
  return out;
}

/** The sequences in both (sorted and merged inputs). */
export function intersect(a: readonly SeqRange[], b: readonly SeqRange[]): SeqRange[] {
  return subtract(a, subtract(a, b));
}

/** Compact text, e.g. `12-40, 77`; `-` when empty. */
export function formatRanges(ranges: readonly SeqRange[]): string {
  if (ranges.length === 0) return '-';
  return ranges.map((r) => (r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`)).join(', ');
}

function push(out: SeqRange[], r: SeqRange): void {
  const prev = out[out.length - 1];
  if (prev && prev.last + 1 >= r.first)
    out[out.length - 1] = { first: prev.first, last: Math.max(prev.last, r.last) };
  else out.push(r);
}
