/** A line of a panel: y values at the chart's x values (null: no data there). */
export interface Series {
  readonly label: string;
  readonly values: readonly (number | null)[];
  readonly color: string;
  readonly dashed?: boolean;
}

export interface ChartInput {
  readonly title: string;
  /** Seconds since the start, one per point. */
  readonly t: readonly number[];
  readonly throughput: Series;
  readonly latency: readonly Series[];
}

const WIDTH = 800;
const PANEL_HEIGHT = 220;
const MARGIN = { left: 70, right: 20, top: 40, bottom: 40 };
const GAP = 30;
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;

/** 0 to a round maximum at or above `max`, with ~5 ticks. */
function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / 5;
  const pow = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * pow >= rough) ?? 10) * pow;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(3).replace(/\.?0+$/, ''));

function panel(top: number, t: readonly number[], series: readonly Series[], yLabel: string): string {
  const tMax = Math.max(1, ...t);
  const yMax = Math.max(0, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  const yTicks = niceTicks(yMax);
  const yTop = yTicks[yTicks.length - 1]!;
  const xTicks = niceTicks(tMax);
  const xTop = xTicks[xTicks.length - 1]!;
  const x = (v: number) => MARGIN.left + (v / xTop) * PLOT_W;
  const y = (v: number) => top + PANEL_HEIGHT - (v / yTop) * PANEL_HEIGHT;
  const out: string[] = [];
  out.push(
    `<rect x="${MARGIN.left}" y="${top}" width="${PLOT_W}" height="${PANEL_HEIGHT}" fill="none" stroke="#999"/>`,
  );
  for (const v of yTicks) {
    out.push(
      `<line x1="${MARGIN.left}" y1="${y(v).toFixed(1)}" x2="${MARGIN.left + PLOT_W}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${MARGIN.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${num(v)}</text>`,
    );
  }
  for (const v of xTicks) {
    out.push(
      `<text x="${x(v).toFixed(1)}" y="${top + PANEL_HEIGHT + 16}" text-anchor="middle">${num(v)}</text>`,
    );
  }
  out.push(
    `<text x="18" y="${top + PANEL_HEIGHT / 2}" text-anchor="middle" transform="rotate(-90 18 ${top + PANEL_HEIGHT / 2})">${esc(yLabel)}</text>`,
    `<text x="${MARGIN.left + PLOT_W / 2}" y="${top + PANEL_HEIGHT + 32}" text-anchor="middle">seconds since start</text>`,
  );
  series.forEach((s, i) => {
    // A gap in the data (null) starts a new line.
    let path = '';
    let pen = false;
    s.values.forEach((v, j) => {
      if (v === null || t[j] === undefined) {
        pen = false;
        return;
      }
      path += `${pen ? 'L' : 'M'}${x(t[j]!).toFixed(1)},${y(v).toFixed(1)} `;
      pen = true;
    });
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    if (path !== '') {
      out.push(`<path d="${path.trim()}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    }
    const lx = MARGIN.left + 10 + i * 200;
    out.push(
      `<line x1="${lx}" y1="${top - 10}" x2="${lx + 24}" y2="${top - 10}" stroke="${s.color}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 30}" y="${top - 6}">${esc(s.label)}</text>`,
    );
  });
  return out.join('\n');
}

/** Two stacked panels: throughput (MB/s) over time, and latency (ms) over time. Plain SVG. */
export function chartSvg(c: ChartInput): string {
  const top1 = MARGIN.top + 20;
  const top2 = top1 + PANEL_HEIGHT + MARGIN.bottom + GAP;
  const height = top2 + PANEL_HEIGHT + MARGIN.bottom + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(c.title)}</text>`,
    panel(top1, c.t, [c.throughput], 'throughput (MB/s)'),
    panel(top2, c.t, c.latency, 'latency (ms)'),
    '</svg>',
    '',
  ].join('\n');
}
