import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Consumer, Producer } from '@barge/client';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type BrokerProcess, freePort, repoRoot, runCli, startBroker, tempDir, waitFor } from '../harness.js';

// The live dashboard (`/ui` on the admin endpoint) in a real headless Chromium, the one Debian
// packages (`scripts/services.sh start all` installs it): against a real `barge broker` process,
// the page loads without errors, every chart draws, and the charts move while a producer and a
// consumer group run. A screenshot is kept in test/artifacts/.

const CHROMIUM = process.env.BARGE_TEST_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(repoRoot, 'test', 'artifacts');
const TOPIC = 'dash';
const GROUP = 'dash-readers';
const CHARTS = [
  'produce',
  'consume',
  'batches',
  'upload-latency',
  'lag-messages',
  'lag-pointers',
  'errors',
  'requests-per-gb',
];

/** What the page functions below use of the browser (the test program has no DOM types). */
interface InPage {
  bargeDashboard?: { polls(): number; series(id: string, label: string): (number | null)[] };
  document: {
    querySelectorAll(selector: string): Iterable<{
      width: number;
      height: number;
      getContext(
        kind: '2d',
      ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
    }>;
  };
}

/** Painted pixels (alpha > 0) of every canvas of chart `id`. */
function paintedPixels(page: Page, id: string): Promise<number> {
  return page.evaluate((chartId) => {
    const { document } = globalThis as unknown as InPage;
    let painted = 0;
    for (const canvas of document.querySelectorAll(`#chart-${chartId} canvas`)) {
      const ctx = canvas.getContext('2d');
      if (!ctx || canvas.width === 0 || canvas.height === 0) continue;
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      for (let i = 3; i < data.length; i += 4) if ((data[i] ?? 0) > 0) painted++;
    }
    return painted;
  }, id);
}

function series(page: Page, id: string, label: string): Promise<(number | null)[]> {
  return page.evaluate(
    ([c, l]) => (globalThis as unknown as InPage).bargeDashboard?.series(c as string, l as string) ?? [],
    [id, label],
  );
}

/** Sends 1 KiB messages in groups of 50, up to 8 sends in flight, until `stop` says so. */
async function produceUntil(producer: Producer, stop: () => boolean): Promise<number> {
  let sent = 0;
  const value = Buffer.alloc(1024, 'x');
  const inFlight = new Set<Promise<unknown>>();
  while (!stop()) {
    const messages = Array.from({ length: 50 }, (_, i) => ({ key: `k${(sent + i) % 8}`, value }));
    const send: Promise<unknown> = producer
      .send({ topic: TOPIC, messages })
      .finally(() => inFlight.delete(send));
    inFlight.add(send);
    sent += messages.length;
    if (inFlight.size >= 8) await Promise.race(inFlight);
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(inFlight);
  return sent;
}

describe('the dashboard at /ui in headless Chromium', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  let admin: string;
  let browser: Browser;

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `no Chromium at ${CHROMIUM}: run scripts/services.sh start all (it installs Debian's chromium), or set BARGE_TEST_CHROMIUM`,
    );
    dir = await tempDir('barge-dashboard-');
    admin = `127.0.0.1:${await freePort()}`;
    broker = await startBroker(['--data', dir.path, '--admin', admin]);
    const created = await runCli([
      'topics',
      'create',
      TOPIC,
      '--partitions',
      '2',
      '--broker',
      broker.address,
    ]);
    assert.equal(created.code, 0, created.stderr);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
    await broker?.stop();
    await dir?.remove();
  });

  it('loads, draws every chart, and the charts move while a producer and a consumer group run', async (t) => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));

    const response = await page.goto(`http://${admin}/ui`);
    assert.equal(response?.status(), 200);
    assert.equal(await page.title(), 'Barge broker');
    await page.waitForFunction(
      () => ((globalThis as unknown as InPage).bargeDashboard?.polls() ?? 0) >= 2,
      undefined,
      {
        timeout: 15_000,
      },
    );
    assert.deepEqual(
      await page.$$eval('section.chart', (s) => s.map((e) => e.id)),
      CHARTS.map((id) => `chart-${id}`),
    );
    assert.match((await page.textContent('#build')) ?? '', /^barge \S+ · broker \d+ · local \+ embedded/);

    // Idle: the produce chart is drawn (axes, a flat line at zero) and says zero messages/s.
    assert.ok((await paintedPixels(page, 'produce')) > 1000, 'the produce chart is painted');
    assert.ok((await series(page, 'produce', 'messages/s')).every((v) => v === 0));
    const idle = await page.locator('#chart-produce canvas').screenshot();

    const consumer = new Consumer({
      brokers: [broker.address],
      groupId: GROUP,
      fromBeginning: true,
      autoCommitIntervalMs: 200,
    });
    const producer = new Producer({ brokers: [broker.address], acks: 'durable', lingerMs: 5 });
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC });
    let consumed = 0;
    const consuming = consumer.run({
      eachMessage: async () => {
        consumed++;
      },
    });
    let stop = false;
    const producing = produceUntil(producer, () => stop);
    try {
      await waitFor(
        'the dashboard to show produce throughput, batches, upload latency, reads and the group',
        async () => {
          const moving = async (id: string, label: string) =>
            (await series(page, id, label)).filter((v) => v !== null && v > 0).length >= 3;
          const lag = await series(page, 'lag-pointers', GROUP);
          return (
            (await moving('produce', 'messages/s')) &&
            (await moving('produce', 'MB/s')) &&
            (await moving('batches', 'messages per batch')) &&
            (await moving('upload-latency', 'p99')) &&
            (await moving('consume', 'reads/s')) &&
            (await moving('requests-per-gb', 'PUTs (since start)')) &&
            (await moving('requests-per-gb', 'PUTs (last 5 s)')) &&
            lag.some((v) => v !== null) &&
            (await series(page, 'lag-messages', GROUP)).some((v) => v !== null)
          );
        },
        30_000,
        250,
      );
    } finally {
      stop = true;
      const sent = await producing;
      t.diagnostic(`produced ${sent} messages; the group consumed ${consumed} so far`);
      await producer.disconnect();
      await consumer.disconnect();
      await consuming.catch(() => undefined);
      // Kept whether or not the checks pass: the picture says what went wrong.
      await mkdir(ARTIFACTS, { recursive: true });
      const shot = join(ARTIFACTS, 'dashboard.png');
      await page.screenshot({ path: shot, fullPage: true });
      t.diagnostic(`screenshot: ${shot}`);
    }

    for (const id of CHARTS) {
      assert.ok((await page.locator(`#chart-${id} canvas`).count()) > 0, `chart ${id} has a canvas`);
      assert.ok((await paintedPixels(page, id)) > 1000, `chart ${id} is painted`);
    }
    const busy = await page.locator('#chart-produce canvas').screenshot();
    assert.notDeepEqual(busy, idle, 'the produce chart changed while the producer ran');
    assert.ok(Number((await page.textContent('#messages')) ?? '0') > 0, 'the messages tile counts');
    assert.deepEqual(problems, [], 'no page errors, console errors or failed requests');
    await page.close();
  });

  it('serves uPlot from the broker itself, not a CDN, and nothing else under /ui', async () => {
    for (const [path, type] of [
      ['/ui/uPlot.iife.min.js', 'text/javascript'],
      ['/ui/uPlot.min.css', 'text/css'],
      ['/ui/data', 'application/json'],
    ] as const) {
      const res = await fetch(`http://${admin}${path}`);
      assert.equal(res.status, 200, path);
      assert.ok(
        res.headers.get('content-type')?.startsWith(type),
        `${path}: ${res.headers.get('content-type')}`,
      );
      await res.arrayBuffer();
    }
    const page = await fetch(`http://${admin}/ui`);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.doesNotMatch(await page.text(), /https?:\/\//, 'the page loads nothing from another origin');
    assert.equal((await fetch(`http://${admin}/ui/../../etc/passwd`)).status, 404);
    assert.equal((await fetch(`http://${admin}/ui/nothing`)).status, 404);
  });
});
