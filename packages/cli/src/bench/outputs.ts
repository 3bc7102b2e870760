import { writeFile } from 'node:fs/promises';
import { CliError } from '../fail.js';
import { chartSvg } from './chart-svg.js';
import type { BenchOptions } from './options.js';
import type { BenchResult } from './run.js';
import { formatSummary } from './summary.js';

/**
 * The run's outputs: the human summary on stdout (on stderr when `--json -` takes stdout), the
 * JSON summary and the SVG chart where asked.
 */
export async function writeOutputs(
  o: BenchOptions,
  { summary, endToEndTimeline }: BenchResult,
): Promise<void> {
  const text = formatSummary(summary);
  if (o.json === '-') process.stderr.write(text);
  else process.stdout.write(text);
  const json = `${JSON.stringify(summary, null, 2)}\n`;
  if (o.json === '-') process.stdout.write(json);
  else if (o.json !== undefined) await save(o.json, json, '--json');
  if (o.svg !== undefined) {
    const tl = summary.timeline;
    const svg = chartSvg({
      title: `barge bench ${summary.kind}: ${summary.topic}, ${summary.messageBytes} B values, acks=${summary.acks}`,
      t: tl.map((p) => p.t),
      throughput: { label: 'MB/s', values: tl.map((p) => p.mbPerSecond), color: '#1f77b4' },
      latency: [
        { label: 'p99 ack (ms)', values: tl.map((p) => p.p99AckMs), color: '#d62728' },
        ...(summary.kind === 'e2e'
          ? [{ label: 'p99 end-to-end (ms)', values: endToEndTimeline, color: '#2ca02c', dashed: true }]
          : []),
      ],
    });
    await save(o.svg, svg, '--svg');
  }
}

async function save(file: string, text: string, flag: string): Promise<void> {
  try {
    await writeFile(file, text);
  } catch (e) {
    throw new CliError(`${flag} ${file}: cannot write (${(e as Error).message})`, 1);
  }
}
