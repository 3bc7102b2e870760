import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../harness.js';
import { renderMarkdown, resultsTable, targetsTable } from './report-markdown.js';
import { renderSvg } from './report-svg.js';
import { evaluateTargets, TARGETS } from './targets.js';
import type { CompareRun } from './types.js';

// A real `test/bench/compare --mb 64` run (the tools' raw output left out), on the loaded 2-core VM.
const FIXTURE = join(repoRoot, 'test', 'src', 'bench', 'compare', 'fixtures', 'compare-run-64mb.json');
const load = (): CompareRun => JSON.parse(readFileSync(FIXTURE, 'utf8')) as CompareRun;

const cell = (run: CompareRun, system: string, size: number) => {
  const c = run.cells.find((x) => x.system === system && x.size === size);
  assert.ok(c, `${system} ${size} in the fixture`);
  return c;
};

describe('targets of issue 14', () => {
  const run = load();
  const checks = evaluateTargets(run);
  const find = (target: string, system: string, size: number) => {
    const t = checks.find((x) => x.target === target && x.system === system && x.size === size);
    assert.ok(t, `${target} / ${system} / ${size}`);
    return t;
  };

  it('compares produce msgs/s with the Java producer of the same size', () => {
    const java = cell(run, 'kafka-java', 1024).produce!.messagesPerSecond;
    const embedded = find(TARGETS.produce, 'barge-embedded', 1024);
    assert.equal(embedded.value, cell(run, 'barge-embedded', 1024).produce!.messagesPerSecond / java);
    assert.equal(embedded.met, false); // 20,458 vs 24,291 msgs/s
    assert.equal(find(TARGETS.produce, 'barge-kafka', 1024).met, true); // 49,071: 2.02x
  });

  it('checks CPU per GB against Kafka only at 1 KiB and above', () => {
    assert.equal(
      checks.some((t) => t.target === TARGETS.cpu && t.size === 100),
      false,
    );
    const cpu = find(TARGETS.cpu, 'barge-embedded', 1024);
    assert.deepEqual([cpu.value, cpu.bound, cpu.met], [8.986, 21.41, true]);
  });

  it('checks the half-rate ack latency of the embedded default only, against maxDelayMs + 50', () => {
    const latency = checks.filter((t) => t.target === TARGETS.latency);
    assert.deepEqual(
      latency.map((t) => [t.system, t.size, t.value, t.bound, t.met]),
      [
        ['barge-embedded', 100, 342.714, 300, false],
        ['barge-embedded', 1024, 409.755, 300, false],
        ['barge-embedded', 65536, 800.749, 300, false],
      ],
    );
  });

  it('bounds the broker RSS by upload.inFlightBytes + 150 MiB, using the highest phase', () => {
    const rss = find(TARGETS.rss, 'barge-s3-kafka', 1024);
    assert.equal(rss.bound, 256 + 150);
    const c = cell(run, 'barge-s3-kafka', 1024);
    const phases = [c.produce, c.consume, c.consumeDirect].map((m) => m!.brokerPeakRssMiB!);
    assert.equal(rss.value, Math.max(...phases));
    assert.equal(rss.met, true);
  });

  it('cannot check a failed cell, and says so instead of passing or failing it', () => {
    const broken = load();
    const c = cell(broken, 'kafka-java', 65536);
    c.error = 'ProducerPerformance exited with 1';
    const produce = evaluateTargets(broken).find(
      (t) => t.target === TARGETS.produce && t.system === 'barge-embedded' && t.size === 65536,
    );
    assert.deepEqual([produce?.value, produce?.met], [null, null]);
    assert.match(targetsTable(broken), /could not be checked/);
    assert.match(
      resultsTable(broken),
      /\| 64 KiB \| Kafka Java perf tools \| failed: ProducerPerformance exited with 1 \|/,
    );
  });
});

describe('markdown of a run', () => {
  const run = load();

  it('has one row per size and system, with ratios to the Java tools of that size', () => {
    const lines = resultsTable(run).split('\n');
    assert.equal(lines.length, 2 + run.cells.length);
    assert.ok(
      lines.includes(
        '| 1 KiB | Barge local + Kafka pointers | 49,071 | 50.2 | 1,194 | 22.9 | 28.5 | 7.10 | Kafka 1.25 | 159 | 2.02x | 0.38x |',
      ),
      lines.join('\n'),
    );
    assert.ok(
      lines.some(
        (l) => l.startsWith('| 64 KiB | Kafka Java perf tools | 156 |') && l.endsWith('| 1.00x | 1.00x |'),
      ),
    );
  });

  it('marks each target met or not per Barge system', () => {
    const table = targetsTable(run);
    assert.ok(table.includes(`| ${TARGETS.produce} | 1 KiB | 0.84x ❌ | 2.02x ✅ | 1.21x ❌ |`), table);
    assert.ok(table.includes(`| ${TARGETS.latency} | 64 KiB | 801 ms ❌ |  |  |`), table);
    const met = evaluateTargets(run).filter((t) => t.met === true).length;
    assert.match(table, new RegExp(`\\n${met} of 45 targets met\\.$`));
  });

  it('says where and how it ran, and links the chart and the JSON', () => {
    const md = renderMarkdown(run, 'test/bench/compare --mb 64', {
      svg: 'bench/compare.svg',
      json: 'bench/compare.json',
    });
    assert.match(md, /^- Command: `test\/bench\/compare --mb 64`\n- Machine: 2 x AMD EPYC, /);
    assert.match(
      md,
      /load average \(1\/5\/15 min\) 14\.3 \/ 11\.5 \/ 6\.8 at the start, 19\.2 \/ 15\.1 \/ 9\.6 at the end/,
    );
    assert.match(md, /100 B: 384,000 messages \(38\.4 MB\); 1 KiB: 62,500 messages \(64\.0 MB\)/);
    assert.match(md, /!\[[^\]]+\]\(bench\/compare\.svg\)/);
    assert.match(md, /\[bench\/compare\.json\]\(bench\/compare\.json\)/);
  });
});

describe('SVG chart of a run', () => {
  it('draws one bar per system, size and direction, and the Java-relative target lines', () => {
    const run = load();
    const svg = renderSvg(run);
    assert.match(svg, /^<svg [^>]*>/);
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    const bars = [
      ...svg.matchAll(
        /<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[\d.]+" fill="#[0-9a-f]{6}"><title>/g,
      ),
    ];
    assert.equal(bars.length, run.cells.length * 2);
    assert.equal([...svg.matchAll(/stroke-dasharray/g)].length, run.settings.sizes.length * 2);
    // The 1 KiB produce target: 1.5 x the Java producer's 24.9 MB/s.
    const java = cell(run, 'kafka-java', 1024).produce!.mbPerSecond;
    assert.ok(svg.includes(`target for Barge: ${(java * 1.5).toFixed(1)} MB/s`));
  });
});
