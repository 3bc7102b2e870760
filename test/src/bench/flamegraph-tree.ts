/**
 * The pure half of the flame graph: a V8 `.cpuprofile` turned into a tree of merged stacks
 * (same frame under the same parent = one node) weighted by sampled time, then laid out as rows of
 * rectangles, root at depth 0. Rendering is in flamegraph-svg.ts, file I/O in flamegraph.ts.
 */
import { type CpuProfile, packageOf, shortPath } from './profile-summary.js';

/** The `.cpuprofile` fields read here, beyond those profile-summary reads. */
export interface TreeProfile extends CpuProfile {
  nodes: (CpuProfile['nodes'][number] & {
    callFrame: { columnNumber?: number };
    children?: number[];
    hitCount?: number;
  })[];
}

export type Category =
  | { kind: 'barge'; pkg: string }
  | { kind: 'node' }
  | { kind: 'dependency' }
  | { kind: 'native' }
  | { kind: 'vm' };

export interface FlameNode {
  /** `function (file:line)`, or V8's own name for `(garbage collector)` and the like. */
  label: string;
  category: Category;
  /** Sampled microseconds in this frame and everything it called. */
  total: number;
  /** Sampled microseconds in this frame itself. */
  self: number;
  children: FlameNode[];
}

const IDLE = '(idle)';

type CallFrame = TreeProfile['nodes'][number]['callFrame'];

export function frameLabel(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  const url = frame.url.replace(/^file:\/\//, '');
  if (url === '') return name;
  return `${name} (${shortPath(url).replace(/^packages\//, '')}:${frame.lineNumber + 1})`;
}

export function categoryOf(frame: CallFrame): Category {
  const url = frame.url.replace(/^file:\/\//, '');
  if (url === '') return /^\(.*\)$/.test(frame.functionName) ? { kind: 'vm' } : { kind: 'native' };
  if (url.startsWith('node:')) return { kind: 'node' };
  if (url.includes('/node_modules/')) return { kind: 'dependency' };
  const pkg = packageOf(url);
  return pkg.startsWith('@barge/') ? { kind: 'barge', pkg } : { kind: 'dependency' };
}

/**
 * Sampled time per profile node id, in microseconds. Each sample counts the interval until the
 * next (as profile-summary's tables do), not 1: on a loaded machine the intervals stretch, and
 * most during GC, so plain sample counts understate it. Without `samples`, V8's `hitCount`.
 */
function hitsById(profile: TreeProfile): Map<number, number> {
  const hits = new Map<number, number>();
  if (profile.samples.length > 0) {
    profile.samples.forEach((id, i) => {
      hits.set(id, (hits.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
    });
  } else {
    for (const n of profile.nodes) hits.set(n.id, n.hitCount ?? 0);
  }
  return hits;
}

/**
 * The merged tree under a synthetic root labelled `all`. `(idle)` is left out of every total.
 * Children are sorted by label, so the same stacks line up in the same place across runs.
 */
export function buildTree(profile: TreeProfile): FlameNode {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = hitsById(profile);
  const childIds = new Set(profile.nodes.flatMap((n) => n.children ?? []));
  const roots = profile.nodes.filter((n) => !childIds.has(n.id));
  const root: FlameNode = { label: 'all', category: { kind: 'vm' }, total: 0, self: 0, children: [] };

  const add = (parent: FlameNode, id: number): void => {
    const n = byId.get(id);
    if (!n) return;
    const label = frameLabel(n.callFrame);
    if (label === IDLE) return;
    let node = parent.children.find((c) => c.label === label);
    if (!node) {
      node = { label, category: categoryOf(n.callFrame), total: 0, self: 0, children: [] };
      parent.children.push(node);
    }
    node.self += hits.get(id) ?? 0;
    for (const c of n.children ?? []) add(node, c);
  };
  // V8's own `(root)` node is not a frame anyone wrote: its children go straight under `all`.
  for (const r of roots) {
    if (r.callFrame.functionName === '(root)' && r.callFrame.url === '') {
      root.self += hits.get(r.id) ?? 0;
      for (const c of r.children ?? []) add(root, c);
    } else add(root, r.id);
  }
  sumTotals(root);
  return root;
}

function sumTotals(node: FlameNode): number {
  node.children.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  node.total = node.self + node.children.reduce((s, c) => s + sumTotals(c), 0);
  return node.total;
}

/** Sampled time of `(idle)`, µs: reported beside the graph, since it is left out of it. */
export function idleTime(profile: TreeProfile): number {
  const hits = hitsById(profile);
  return profile.nodes
    .filter((n) => n.callFrame.functionName === IDLE && n.callFrame.url === '')
    .reduce((s, n) => s + (hits.get(n.id) ?? 0), 0);
}

export interface FlameRect {
  node: FlameNode;
  depth: number;
  /** Left edge and width as shares of the root's time, 0..1. */
  x: number;
  width: number;
}

/**
 * Rectangles for every frame at least `minShare` of the root wide (narrower ones, and all they
 * called, are dropped: too thin to see or hover). Each child starts where its left sibling ends.
 */
export function layout(root: FlameNode, minShare = 0.001): { rects: FlameRect[]; dropped: number } {
  const rects: FlameRect[] = [];
  let dropped = 0;
  const all = root.total;
  if (all === 0) return { rects: [{ node: root, depth: 0, x: 0, width: 1 }], dropped };
  const place = (node: FlameNode, depth: number, x: number): void => {
    rects.push({ node, depth, x, width: node.total / all });
    let left = x;
    for (const c of node.children) {
      if (c.total / all >= minShare) place(c, depth + 1, left);
      else dropped++;
      left += c.total / all;
    }
  };
  place(root, 0, 0);
  return { rects, dropped };
}
