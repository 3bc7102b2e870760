/**
 * A flame graph's rectangles as one static SVG: no script, no external fonts or styles, so it
 * shows the same in a browser, an image viewer or a markdown preview. Hovering a frame shows its
 * `<title>`: the full label, samples and share of the graph.
 */
import type { Category, FlameRect } from './flamegraph-tree.js';

export interface SvgOptions {
  title: string;
  /** Lines under the title: what the graph counts and what it leaves out. */
  subtitle: readonly string[];
  width?: number;
}

const FRAME_H = 17;
const FONT_PX = 11;
/** Width of one character of the 11 px monospace font, a little generous so text never spills. */
const CHAR_W = FONT_PX * 0.62;
const PAD = 10;

/** One fixed hue per Barge package, so a package looks the same in every graph; fixed fills for the rest. */
const BARGE_HUES: Readonly<Record<string, number>> = {
  '@barge/broker': 22,
  '@barge/core': 190,
  '@barge/storage-local': 330,
  '@barge/storage-s3': 350,
  '@barge/storage-gcs': 8,
  '@barge/storage-azure': 210,
  '@barge/pointers-embedded': 240,
  '@barge/pointers-kafka': 280,
  '@barge/client': 160,
  '@barge/cli': 300,
  '@barge/testkit': 60,
};
const FIXED: Record<Exclude<Category['kind'], 'barge'>, { fill: string; legend: string }> = {
  node: { fill: 'hsl(95, 38%, 68%)', legend: 'Node.js (node:*)' },
  dependency: { fill: 'hsl(265, 30%, 78%)', legend: 'dependencies (node_modules)' },
  native: { fill: 'hsl(45, 75%, 70%)', legend: 'native / V8 builtins' },
  vm: { fill: 'hsl(0, 0%, 78%)', legend: 'GC, (program), root' },
};

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `text` cut to fit `px` (ending in `..`), or '' when not even three characters fit. */
export function fitText(text: string, px: number): string {
  const n = Math.floor((px - 6) / CHAR_W);
  if (n < 3) return '';
  return text.length <= n ? text : `${text.slice(0, n - 2)}..`;
}

/** A package not in the table gets a hue from its name. */
function hueOf(pkg: string): number {
  let h = 0;
  for (const ch of pkg) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return BARGE_HUES[pkg] ?? h;
}

function colour(c: Category): string {
  return c.kind === 'barge' ? `hsl(${hueOf(c.pkg)}, 70%, 62%)` : FIXED[c.kind].fill;
}

/** Legend entries from `top`, wrapped to `width`; returns the SVG and the y below it. */
function legend(rects: readonly FlameRect[], top: number, width: number): { svg: string[]; bottom: number } {
  const seen = new Map<string, Category>();
  for (const r of rects) {
    const c = r.node.category;
    const key = c.kind === 'barge' ? c.pkg : c.kind;
    if (!seen.has(key)) seen.set(key, c);
  }
  const entries = [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  let x = PAD;
  let y = top + 12;
  const out: string[] = [];
  for (const [key, c] of entries) {
    const text = c.kind === 'barge' ? key : FIXED[c.kind].legend;
    const w = 16 + text.length * CHAR_W + 14;
    if (x > PAD && x + w > width - PAD) {
      x = PAD;
      y += 16;
    }
    out.push(
      `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${colour(c)}"/>`,
      `<text x="${x + 16}" y="${y}">${escapeXml(text)}</text>`,
    );
    x += w;
  }
  return { svg: out, bottom: y + 10 };
}

export function renderFlameSvg(rects: readonly FlameRect[], options: SvgOptions): string {
  const width = options.width ?? 1400;
  const inner = width - 2 * PAD;
  const depth = rects.reduce((d, r) => Math.max(d, r.depth), 0) + 1;
  const key = legend(rects, 34 + 15 * options.subtitle.length, width);
  const header = key.bottom + 6;
  const height = header + depth * FRAME_H + PAD;
  const total = rects.find((r) => r.depth === 0)?.node.total ?? 0;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Menlo, Consolas, 'DejaVu Sans Mono', monospace" font-size="${FONT_PX}">`,
    `<rect width="100%" height="100%" fill="#fdfdf8"/>`,
    `<text x="${width / 2}" y="24" font-size="16" text-anchor="middle">${escapeXml(options.title)}</text>`,
    ...options.subtitle.map(
      (line, i) =>
        `<text x="${width / 2}" y="${42 + 15 * i}" text-anchor="middle" fill="#555">${escapeXml(line)}</text>`,
    ),
    ...key.svg,
  ];
  for (const r of rects) {
    const x = PAD + r.x * inner;
    const w = r.width * inner;
    // Root at the bottom: depth 0 is the last row.
    const y = header + (depth - 1 - r.depth) * FRAME_H;
    const pct = total > 0 ? ((r.node.total / total) * 100).toFixed(2) : '0';
    const selfPct = total > 0 ? ((r.node.self / total) * 100).toFixed(2) : '0';
    const ms = (r.node.total / 1000).toFixed(r.node.total < 10_000 ? 1 : 0);
    const tip = `${r.node.label}\n${ms} ms, ${pct}% (self ${selfPct}%)`;
    const text = fitText(r.node.label, w);
    out.push(
      `<g><title>${escapeXml(tip)}</title>`,
      `<rect x="${x.toFixed(2)}" y="${y}" width="${Math.max(w - 0.5, 0.1).toFixed(2)}" height="${FRAME_H - 1}" rx="1.5" fill="${colour(r.node.category)}"/>`,
      text ? `<text x="${(x + 3).toFixed(2)}" y="${y + FRAME_H - 5}">${escapeXml(text)}</text>` : '',
      '</g>',
    );
  }
  out.push('</svg>', '');
  return out.filter((l) => l !== '').join('\n');
}
