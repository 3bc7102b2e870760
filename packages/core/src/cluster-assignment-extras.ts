/**
 * The optimisation inside the cluster assignor. With M members, a topic of W write partitions
 * gives every member floor(W/M) of them plus W mod M "extras", one each to W mod M distinct
 * members. Choosing who gets the extras is all that is left to decide:
 * - every topic's extras go to distinct members;
 * - every member gets floor(E/M) or ceil(E/M) of all E extras (so overall counts are balanced);
 * - as many extras as possible go to members that want them (claim more than the floor of that
 *   topic), because each such extra is a write partition that stays where it is.
 * This is a min-cost flow (topics to members, unit capacities). It is solved exactly: a greedy
 * start, a repair to the balance, then improving exchanges until none exists (cycle canceling).
 */

/** `extras[topic * members + member]` is 1 when that member gets one of the topic's extras. */
export type Extras = Uint8Array;

/**
 * Extras for `spare[topic]` extras per topic (each < members) that maximise the number of
 * wanted ones (`wants[topic * members + member]` = 1) under the two rules above.
 */
export function chooseExtras(spare: readonly number[], members: number, wants: Uint8Array): Extras {
  const total = spare.reduce((a, b) => a + b, 0);
  const shares = sharesOf(spare, members, wants, total);
  const extras = greedyExtras(spare, members, wants, shares);
  repairToShares(extras, spare.length, members, wants, shares);
  cancelImprovingCycles(extras, spare, members, wants, total);
  return extras;
}

/** floor(E/M) extras per member, one more for the E mod M members that want the most. */
function sharesOf(spare: readonly number[], m: number, wants: Uint8Array, total: number): Int32Array {
  const wanted = new Int32Array(m);
  spare.forEach((s, t) => {
    if (s > 0) for (let i = 0; i < m; i++) wanted[i]! += wants[t * m + i]!;
  });
  const shares = new Int32Array(m).fill(Math.floor(total / m));
  const byWanted = [...Array(m).keys()].sort((a, b) => wanted[b]! - wanted[a]! || a - b);
  for (const i of byWanted.slice(0, total % m)) shares[i]!++;
  return shares;
}

/**
 * A good start, fast: topics with the most extras first, each topic's extras to the members that
 * most need one now. A member that wants it needs it in proportion of its room to the wanted
 * topics left; one that does not, in proportion of its room beyond those to the topics left where
 * extras remain once their wanting members have one (1 or more: must take it now). Then members
 * needing nothing more, and last members without room (breaking a share, repaired later).
 */
function greedyExtras(spare: readonly number[], m: number, wants: Uint8Array, shares: Int32Array): Extras {
  const topics = spare.length;
  const extras = new Uint8Array(topics * m);
  const room = Int32Array.from(shares);
  // Per member, among the topics left: those it wants, and those it does not where some extra is
  // left over once every member wanting one has it (where it can most likely get one).
  const wantedLeft = new Int32Array(m);
  const openLeft = new Int32Array(m);
  const open = spare.map((s, t) => {
    let wanting = 0;
    for (let i = 0; i < m; i++) wanting += wants[t * m + i]!;
    return s > wanting ? 1 : 0;
  });
  const countLeft = (t: number, sign: number) => {
    const isOpen = open[t] === 1;
    for (let i = 0; i < m; i++) {
      if (wants[t * m + i]) wantedLeft[i]! += sign;
      else if (isOpen) openLeft[i]! += sign;
    }
  };
  spare.forEach((s, t) => {
    if (s > 0) countLeft(t, 1);
  });
  const maxShare = shares.reduce((a, b) => Math.max(a, b), 0);
  // Lower picks first: [0, 2] needs it (0 must), (2, 3] has room but no need, 4 has no room.
  // Packed with the member index (urgencies closer than 2^-20 tie): every key differs.
  const keys = new Float64Array(m);
  const pack = (key: number, i: number) => ((key * 2 ** 20) | 0) * m + i;
  const order = [...Array(topics).keys()].sort((a, b) => spare[b]! - spare[a]! || a - b);
  for (const t of order) {
    if (spare[t] === 0) break;
    for (let i = 0; i < m; i++) {
      const free = room[i]!;
      const wanted = wants[t * m + i] === 1;
      const need = wanted ? free / wantedLeft[i]! : (free - wantedLeft[i]!) / openLeft[i]!;
      if (free <= 0) keys[i] = pack(4, i);
      else if (need > 0) keys[i] = pack(2 * (1 - Math.min(need, 1)) + (wanted ? 0 : 2 ** -20), i);
      else keys[i] = pack(3 - free / (maxShare + 1), i);
    }
    smallestFirst(keys, spare[t]!);
    for (let k = 0; k < spare[t]!; k++) {
      const i = keys[k]! % m;
      extras[t * m + i] = 1;
      room[i]!--;
    }
    countLeft(t, -1);
  }
  return extras;
}

/** Reorders distinct `keys` so that the `k` smallest come first, in any order (quickselect). */
function smallestFirst(keys: Float64Array, k: number): void {
  let lo = 0;
  let hi = keys.length - 1;
  while (lo < hi) {
    const pivot = keys[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (keys[i]! < pivot) i++;
      while (keys[j]! > pivot) j--;
      if (i <= j) {
        const swap = keys[i]!;
        keys[i++] = keys[j]!;
        keys[j--] = swap;
      }
    }
    // Now keys[lo..j] <= pivot <= keys[i..hi]; the k-th smallest is in the part holding index k - 1.
    if (k - 1 <= j) hi = j;
    else if (k - 1 >= i) lo = i;
    else return;
  }
}

/** Moves extras from members over their share to members under it, where that loses the fewest wanted ones. */
function repairToShares(
  extras: Extras,
  topics: number,
  m: number,
  wants: Uint8Array,
  shares: Int32Array,
): void {
  const count = countsOf(extras, topics, m);
  for (;;) {
    const over = count.findIndex((c, i) => c > shares[i]!);
    if (over === -1) return;
    const under = count.findIndex((c, i) => c < shares[i]!);
    let best = -1;
    let bestCost = 2;
    for (let t = 0; t < topics && bestCost > -1; t++) {
      if (extras[t * m + over] === 0 || extras[t * m + under] === 1) continue;
      const cost = wants[t * m + over]! - wants[t * m + under]!;
      if (cost < bestCost) [best, bestCost] = [t, cost];
    }
    // `over` has more extras than `under`, so some topic has one for `over` and none for `under`.
    extras[best * m + over] = 0;
    extras[best * m + under] = 1;
    count[over]!--;
    count[under]!++;
  }
}

function countsOf(extras: Extras, topics: number, m: number): Int32Array {
  const count = new Int32Array(m);
  for (let t = 0; t < topics; t++) for (let i = 0; i < m; i++) count[i]! += extras[t * m + i]!;
  return count;
}

/**
 * Removes negative cycles from the exchange graph until none is left, which makes the choice
 * optimal (min-cost circulation). Nodes: topics [0, T), members [T, T+M) and one node X. Edges:
 * member → topic where the member has the topic's extra (gives it up: costs 1 if wanted), topic
 * → member where it has not (takes it: costs -1 if wanted), and member at floor(E/M) → X → member
 * at ceil(E/M) (who holds the one-more share moves). Every cycle of these keeps every rule, and a
 * negative one keeps more wanted extras. Shortest paths from all nodes at distance 0 (queue-based
 * Bellman-Ford): none changes once no negative cycle is left, and while one is, the predecessor
 * graph eventually contains one (checked every `nodes` steps; every cycle in it is negative).
 */
function cancelImprovingCycles(
  extras: Extras,
  spare: readonly number[],
  m: number,
  wants: Uint8Array,
  total: number,
): void {
  const topics = spare.length;
  const x = topics + m;
  const nodes = x + 1;
  const lo = Math.floor(total / m);
  const balanceMoves = total % m !== 0;
  const count = countsOf(extras, topics, m);
  const dist = new Int32Array(nodes);
  const parent = new Int32Array(nodes);
  const queued = new Uint8Array(nodes);
  let queue: number[] = [];
  const relax = (from: number, to: number, cost: number) => {
    if (dist[from]! + cost >= dist[to]!) return;
    dist[to] = dist[from]! + cost;
    parent[to] = from;
    if (queued[to] === 0) {
      queued[to] = 1;
      queue.push(to);
    }
  };
  for (;;) {
    dist.fill(0);
    parent.fill(-1);
    queued.fill(0);
    queue = [];
    const held = topicsHeld(extras, spare, m);
    // From all-zero distances only negative edges relax: members taking an extra they want.
    for (let t = 0; t < topics; t++) {
      if (spare[t] === 0) continue;
      for (let i = 0; i < m; i++) if (wants[t * m + i] && !extras[t * m + i]) relax(t, topics + i, -1);
    }
    let cycles: number[][] = [];
    for (let head = 0; head < queue.length && cycles.length === 0; head++) {
      const v = queue[head]!;
      queued[v] = 0;
      if (v < topics) {
        for (let i = 0; i < m; i++) if (!extras[v * m + i]) relax(v, topics + i, -wants[v * m + i]!);
      } else if (v < x) {
        const i = v - topics;
        for (const t of held[i]!) relax(v, t, wants[t * m + i]!);
        if (balanceMoves && count[i] === lo) relax(v, x, 0);
      } else {
        for (let i = 0; i < m; i++) if (count[i] !== lo) relax(x, topics + i, 0);
      }
      if ((head + 1) % nodes === 0) cycles = predecessorCycles(parent);
    }
    if (cycles.length === 0) return;
    // The cycles share no node, so their exchanges (parent → node) apply together.
    for (const to of cycles.flat()) {
      const from = parent[to]!;
      if (from === x) count[to - topics]!--;
      else if (to === x) count[from - topics]!++;
      else if (from >= topics) extras[to * m + from - topics] = 0;
      else extras[from * m + to - topics] = 1;
    }
  }
}

/** The topics each member has an extra of. */
function topicsHeld(extras: Extras, spare: readonly number[], m: number): number[][] {
  const held: number[][] = Array.from({ length: m }, () => []);
  spare.forEach((s, t) => {
    if (s > 0) for (let i = 0; i < m; i++) if (extras[t * m + i]) held[i]!.push(t);
  });
  return held;
}

/** The cycles of the predecessor graph (each as its nodes); every node has one parent, so they are disjoint. */
function predecessorCycles(parent: Int32Array): number[][] {
  const cycles: number[][] = [];
  const seen = new Int32Array(parent.length).fill(-1);
  for (let start = 0; start < parent.length; start++) {
    let v = start;
    while (v !== -1 && seen[v] === -1) {
      seen[v] = start;
      v = parent[v]!;
    }
    if (v === -1 || seen[v] !== start) continue;
    const cycle: number[] = [];
    let u = v;
    do {
      cycle.push(u);
      u = parent[u]!;
    } while (u !== v);
    cycles.push(cycle);
  }
  return cycles;
}
