/**
 * The comparison as an SVG bar chart (pure): one small chart per value size and direction
 * (produce MB/s, consume MB/s), each with its own scale, one bar per system.
 */
import { sizeLabel } from './report-markdown.js';
import { type CompareRun, SYSTEM_LABELS, SYSTEMS, type SystemId } from './types.js';

const COLORS: Record<SystemId, string> = {
  'barge-embedded': '#1f77b4',
  'barge-kafka': '#2ca02c',
  'barge-s3-kafka': '#17becf',
  'kafka-java': '#d62728',
  kafkajs: '#ff7f0e',
};
/** Barge's targets as multiples of the Kafka Java producer / ConsumerPerformance (issue 14). */
const TARGET_FACTOR = { produce: 1.5, consume: 1.2 } as const;
const PANEL_W = 300;
const PANEL_H = 220;
const TOP = 60;
const LEFT = 20;
const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface Bar {
  system: SystemId;
  value: number;
}

/** `target`: the MB/s Barge must reach in this panel (a multiple of the Kafka Java tool's), drawn dashed. */
function panel(x0: number, y0: number, title: string, bars: Bar[], target: number | null): string {
  const max = Math.max(1e-9, target ?? 0, ...bars.map((b) => b.value));
  const plotH = PANEL_H - 60;
  const slot = (PANEL_W - 20) / Math.max(1, bars.length);
  const out = [
    `<text x="${x0 + PANEL_W / 2}" y="${y0 + 16}" text-anchor="middle" font-weight="bold">${xml(title)}</text>`,
    `<line x1="${x0 + 10}" y1="${y0 + 30 + plotH}" x2="${x0 + PANEL_W - 10}" y2="${y0 + 30 + plotH}" stroke="#888"/>`,
  ];
  bars.forEach((b, i) => {
    const h = (b.value / max) * plotH;
    const x = x0 + 10 + i * slot + slot * 0.15;
    const y = y0 + 30 + plotH - h;
    out.push(
      `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[b.system]}"><title>${xml(`${SYSTEM_LABELS[b.system]}: ${b.value.toFixed(1)} MB/s`)}</title></rect>`,
      `<text x="${(x + slot * 0.35).toFixed(1)}" y="${(y - 4).toFixed(1)}" text-anchor="middle" font-size="11">${b.value >= 100 ? Math.round(b.value) : b.value.toFixed(1)}</text>`,
    );
  });
  if (target !== null) {
    const y = (y0 + 30 + plotH - (target / max) * plotH).toFixed(1);
    out.push(
      `<line x1="${x0 + 10}" y1="${y}" x2="${x0 + PANEL_W - 10}" y2="${y}" stroke="#d62728" stroke-dasharray="5,4"><title>target for Barge: ${target.toFixed(1)} MB/s</title></line>`,
    );
  }
  if (bars.length === 0) {
    out.push(
      `<text x="${x0 + PANEL_W / 2}" y="${y0 + 30 + plotH / 2}" text-anchor="middle" fill="#888">no data</text>`,
    );
  }
  return out.join('\n');
}

export function renderSvg(run: CompareRun): string {
  const sizes = run.settings.sizes;
  const systems = SYSTEMS.filter((s) => run.settings.systems.includes(s));
  const width = LEFT * 2 + sizes.length * PANEL_W;
  const height = TOP + 2 * PANEL_H + 20;
  const parts: string[] = [];
  (['produce', 'consume'] as const).forEach((dir, row) => {
    sizes.forEach((size, col) => {
      const java = run.cells.find(
        (x) => x.system === 'kafka-java' && x.size === size && x.error === undefined,
      );
      const javaMb = java?.[dir]?.mbPerSecond;
      const target = javaMb === undefined ? null : javaMb * TARGET_FACTOR[dir];
      const bars: Bar[] = [];
      for (const system of systems) {
        const c = run.cells.find((x) => x.system === system && x.size === size && x.error === undefined);
        const v = c?.[dir]?.mbPerSecond;
        if (v !== undefined && Number.isFinite(v)) bars.push({ system, value: v });
      }
      const title = `${dir} MB/s, ${sizeLabel(size)} values`;
      parts.push(panel(LEFT + col * PANEL_W, TOP + row * PANEL_H, title, bars, target));
    });
  });
  const legend = systems
    .map((s, i) => {
      const x = LEFT + (i % 3) * 300;
      const y = 14 + Math.floor(i / 3) * 18;
      return `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${COLORS[s]}"/><text x="${x + 18}" y="${y}">${xml(SYSTEM_LABELS[s])}</text>`;
    })
    .join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    legend,
    ...parts,
    `<text x="${width - LEFT}" y="${height - 6}" text-anchor="end" font-size="10" fill="#666">${xml(`${run.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${run.machine.cores} x ${run.machine.cpuModel}; each chart has its own scale; dashed: Barge's target (1.5x / 1.2x the Java tool)`)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
