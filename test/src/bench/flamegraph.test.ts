import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flameGraphSvg } from './flamegraph.js';
import { fitText } from './flamegraph-svg.js';
import { buildTree, categoryOf, frameLabel, layout, type TreeProfile } from './flamegraph-tree.js';
import { lastWindow } from './profile-window.js';

const BROKER = 'file:///repo/packages/broker/dist/batch-writer.js';
const CORE = 'file:///repo/packages/core/dist/crc32.js';

const ms = (n: number) => n * 1000;
const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

/**
 * (root)
 *  ├ (idle) ×50
 *  ├ (garbage collector) ×10
 *  ├ main ┬ write ×20 ─ crc32 ×30   (nodes 5 → 7)
 *  │      ├ write ─ crc32 ×10       (nodes 6 → 10: the same stack again, to be merged)
 *  │      └ tiny ×tinySamples       (node 8)
 *  └ onData (node:net) ×30
 */
function profile({ tinySamples = 0, gcSamples = 10 } = {}): TreeProfile {
  const nodes: TreeProfile['nodes'] = [
    { id: 1, callFrame: frame('(root)'), children: [2, 3, 4, 9] },
    { id: 2, callFrame: frame('(idle)') },
    { id: 3, callFrame: frame('(garbage collector)') },
    { id: 4, callFrame: frame('main', BROKER, 9), children: [5, 6, 8] },
    { id: 5, callFrame: frame('write', BROKER, 41), children: [7] },
    { id: 6, callFrame: frame('write', BROKER, 41), children: [10] },
    { id: 7, callFrame: frame('crc32', CORE, 2) },
    { id: 8, callFrame: frame('tiny', BROKER, 99) },
    { id: 9, callFrame: frame('onData', 'node:net', 300) },
    { id: 10, callFrame: frame('crc32', CORE, 2) },
  ];
  const samples = [
    ...Array<number>(50).fill(2),
    ...Array<number>(gcSamples).fill(3),
    ...Array<number>(20).fill(5),
    ...Array<number>(30).fill(7),
    ...Array<number>(10).fill(10),
    ...Array<number>(tinySamples).fill(8),
    ...Array<number>(30).fill(9),
    2, // a sample's time is the interval to the next one: this idle one closes the last
  ];
  return { nodes, samples, timeDeltas: samples.map(() => 1000) };
}

describe('flame graph tree', () => {
  it('labels frames with package-relative paths and 1-based lines', () => {
    assert.equal(frameLabel(frame('write', BROKER, 41)), 'write (broker/dist/batch-writer.js:42)');
    assert.equal(frameLabel(frame('', 'node:net', 0)), '(anonymous) (node:net:1)');
    assert.equal(frameLabel(frame('(garbage collector)')), '(garbage collector)');
    assert.deepEqual(categoryOf(frame('crc32', CORE)), { kind: 'barge', pkg: '@barge/core' });
    assert.deepEqual(categoryOf(frame('x', 'file:///repo/node_modules/pino/pino.js')), {
      kind: 'dependency',
    });
    assert.deepEqual(categoryOf(frame('(program)')), { kind: 'vm' });
    assert.deepEqual(categoryOf(frame('writeSync')), { kind: 'native' });
  });

  it('merges identical stacks, leaves (idle) out and sorts siblings by label', () => {
    const root = buildTree(profile());
    assert.equal(root.total, ms(100)); // 151 samples less the idle ones
    assert.deepEqual(
      root.children.map((c) => [c.label, c.total / 1000]),
      [
        ['(garbage collector)', 10],
        ['main (broker/dist/batch-writer.js:10)', 60],
        ['onData (node:net:301)', 30],
      ],
    );
    const main = root.children[1]!;
    assert.equal(main.children.length, 2); // write (merged from nodes 5 and 6) and tiny
    const write = main.children.find((c) => c.label.startsWith('write'))!;
    assert.deepEqual([write.total, write.self], [ms(60), ms(20)]);
    assert.equal(write.children.length, 1);
    assert.deepEqual([write.children[0]!.total, write.children[0]!.self], [ms(40), ms(40)]);
  });

  it('lays children side by side from the parent\u2019s left edge, widths as shares of the root', () => {
    const { rects } = layout(buildTree(profile()));
    const at = (prefix: string) => rects.find((r) => r.node.label.startsWith(prefix))!;
    assert.deepEqual([at('all').x, at('all').width, at('all').depth], [0, 1, 0]);
    assert.deepEqual([at('(garbage').x, at('(garbage').width], [0, 0.1]);
    assert.deepEqual([at('main').x, at('main').width, at('main').depth], [0.1, 0.6, 1]);
    assert.deepEqual([at('onData').x, at('onData').width], [0.7, 0.3]);
    assert.deepEqual([at('write').x, at('write').width, at('write').depth], [0.1, 0.6, 2]);
    assert.deepEqual([at('crc32').x, at('crc32').width, at('crc32').depth], [0.1, 0.4, 3]);
  });

  it('drops frames under the minimum share, and counts them', () => {
    // 1 of 1002 busy samples is under 0.1%.
    const big = profile({ tinySamples: 1, gcSamples: 911 });
    const { rects, dropped } = layout(buildTree(big), 0.001);
    assert.equal(dropped, 1);
    assert.equal(
      rects.some((r) => r.node.label.startsWith('tiny')),
      false,
    );
    const kept = layout(buildTree(profile({ tinySamples: 1 })), 0.001);
    assert.equal(kept.dropped, 0); // 1 of 101 is well over 0.1%
    assert.equal(
      kept.rects.some((r) => r.node.label.startsWith('tiny')),
      true,
    );
  });
});

describe('flame graph SVG', () => {
  it('truncates labels to the frame and hides them in frames too narrow for three characters', () => {
    assert.equal(
      fitText('write (broker/dist/batch-writer.js:42)', 1000),
      'write (broker/dist/batch-writer.js:42)',
    );
    const cut = fitText('write (broker/dist/batch-writer.js:42)', 80);
    assert.ok(cut.endsWith('..') && cut.length < 15, cut);
    assert.equal(fitText('write', 10), '');
  });

  it('writes one titled frame per rectangle, root at the bottom, and says what it left out', () => {
    const svg = flameGraphSvg(profile(), 'test <profile>');
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /test &#60;profile&#62;/);
    assert.match(svg, /\(idle\) left out of the total: 0.05 s/);
    assert.match(svg, /frames under 0.1% of the busy time/);
    assert.equal((svg.match(/<title>/g) ?? []).length, 6); // all, GC, main, write, crc32, onData
    assert.match(svg, /<title>crc32 \(core\/dist\/crc32.js:3\)\n40 ms, 40.00% \(self 40.00%\)<\/title>/);
    const y = (label: string) =>
      Number(new RegExp(`<title>${label}[^]*?<rect [^>]*y="(\\d+)"`).exec(svg)![1]);
    assert.ok(y('all') > y('main') && y('main') > y('write') && y('write') > y('crc32'));
  });
});

describe('profile window', () => {
  it('keeps only the samples taken in the window counted back from the end', () => {
    const p = profile(); // 151 samples, 1 ms apart: at 1..151 ms after startTime 0
    const timed = { ...p, startTime: 0, endTime: 151_000 };
    const cut = lastWindow(timed, 100_000, 10_000); // samples at 51..141 ms
    assert.equal(cut.samples.length, 91);
    assert.deepEqual(cut.samples, p.samples.slice(50, 141)); // from the first GC sample on
    assert.equal(cut.timeDeltas.length, 91);
    assert.equal(buildTree(cut).total, ms(90)); // the last kept sample has no interval after it
  });
});
