import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrokerProcess, freePort, runCli, startBroker, tempDir, waitFor } from '../harness.js';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
}

/** Resolves when `child` exits, with the time since this was called. */
function exitOf(child: ChildProcess): Promise<Exit> {
  const since = Date.now();
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, ms: Date.now() - since })),
  );
}

/** Closes the reading ends of the broker's stdout and stderr: its writes now fail with EPIPE. */
function closePipes(broker: BrokerProcess): void {
  broker.child.stdout?.destroy();
  broker.child.stderr?.destroy();
}

async function health(url: string): Promise<{ status: number; body: string } | 'refused'> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return 'refused';
  }
}

describe('barge broker shutdown', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('barge-shutdown-');
  });
  after(async () => {
    await dir?.remove();
  });

  /**
   * A broker whose drain lasts until its shutdown deadline: its pointer queue is a Kafka that
   * is not there (a free port), so the batch produced with acks=received can be stored but its
   * pointer never published, and `stop()` waits `shutdownTimeoutMs` before giving it up.
   */
  async function startDrainingBroker(name: string, shutdownTimeoutMs: number) {
    const config = join(dir.path, `${name}.yaml`);
    await writeFile(
      config,
      [
        `broker: { shutdownTimeoutMs: ${shutdownTimeoutMs} }`,
        `storage: { adapter: local, root: ${JSON.stringify(join(dir.path, name, 'objects'))} }`,
        `pointers: { adapter: kafka, brokers: ["127.0.0.1:${await freePort()}"] }`,
        'topics: [{ name: held }]',
        '',
      ].join('\n'),
    );
    const adminPort = await freePort();
    const broker = await startBroker(['--config', config, '--admin', `127.0.0.1:${adminPort}`]);
    const produced = await runCli(
      ['produce', '--topic', 'held', '--acks', 'received', '--broker', broker.address],
      {
        stdin: 'one\ntwo\n',
      },
    );
    assert.equal(produced.code, 0, produced.stderr);
    return { broker, healthUrl: `http://127.0.0.1:${adminPort}/health` };
  }

  it('SIGTERM with stdout and stderr closed stops cleanly, at once when idle, five times in a row under load', async () => {
    for (let round = 0; round < 5; round++) {
      const broker = await startBroker(['--data', join(dir.path, `load-${round}`)], {
        BARGE_LOG_LEVEL: 'debug',
        BARGE_BROKER_SHUTDOWN_TIMEOUT_MS: '3000',
      });
      try {
        await runCli(['topics', 'create', 'busy', '--partitions', '4', '--broker', broker.address]);
        const lines = Array.from({ length: 200_000 }, (_, i) => `m${i}`).join('\n');
        // Keeps producing while the broker stops; its own outcome does not matter here.
        const producing = runCli(['produce', '--topic', 'busy', '--broker', broker.address], {
          stdin: lines,
        });
        await new Promise((r) => setTimeout(r, 300));
        closePipes(broker);
        const exited = exitOf(broker.child);
        broker.child.kill('SIGTERM');
        const exit = await Promise.race([
          exited,
          new Promise<'hung'>((r) => setTimeout(() => r('hung'), 3000 + 7000).unref()),
        ]);
        assert.notEqual(exit, 'hung', `round ${round}: still running 10 s after SIGTERM`);
        assert.deepEqual(
          { code: (exit as Exit).code, signal: (exit as Exit).signal },
          { code: 0, signal: null },
          `round ${round}: a clean exit, not a crash on EPIPE`,
        );
        assert.ok((exit as Exit).ms < 3000 + 5000, `round ${round}: stopped in ${(exit as Exit).ms} ms`);
        await producing.catch(() => undefined);
      } finally {
        await broker.kill();
      }
    }
  });

  it('/health answers 503 "stopping" from SIGTERM until the process ends, and the drain ends at shutdownTimeoutMs', async () => {
    const { broker, healthUrl } = await startDrainingBroker('health', 3000);
    try {
      assert.deepEqual(await health(healthUrl), { status: 200, body: '{"status":"ok"}' });
      const exited = exitOf(broker.child);
      let done: Exit | undefined;
      void exited.then((e) => {
        done = e;
      });
      broker.child.kill('SIGTERM');
      const answers: Awaited<ReturnType<typeof health>>[] = [];
      while (done === undefined) {
        answers.push(await health(healthUrl));
        await new Promise((r) => setTimeout(r, 100));
      }
      const exit = done as Exit;
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, broker.logs());
      assert.ok(
        exit.ms >= 2500 && exit.ms < 3000 + 5000,
        `drained for ${exit.ms} ms (shutdownTimeoutMs 3000)`,
      );
      // A request sent right after kill() may be served before the process has run its signal
      // handler (both wait in the same event loop turn): one leading "ok" is that race, not a bug.
      const ok = (a: (typeof answers)[number]) => a !== 'refused' && a.status === 200;
      const leadingOk = answers.findIndex((a) => !ok(a));
      assert.ok(leadingOk === 0 || leadingOk === 1, `still "ok" after SIGTERM: ${JSON.stringify(answers)}`);
      const answered = answers.slice(leadingOk).filter((a) => a !== 'refused');
      assert.ok(answered.length >= 10, `answers while draining: ${JSON.stringify(answers)}`);
      for (const a of answered) assert.deepEqual(a, { status: 503, body: '{"status":"stopping"}' });
      // Up until the end: the admin endpoint closes last.
      const lastAnswered = answers.findLastIndex((a) => a !== 'refused');
      assert.ok(lastAnswered >= answers.length - 2, `refused early: ${JSON.stringify(answers)}`);
    } finally {
      await broker.kill();
    }
  });

  for (const [first, second] of [
    ['SIGTERM', 'SIGINT'],
    ['SIGINT', 'SIGTERM'],
    ['SIGTERM', 'SIGTERM'],
  ] as const) {
    it(`${first}, then ${second} while draining with the pipes closed, ends the process at once`, async () => {
      const { broker, healthUrl } = await startDrainingBroker(`twice-${first}-${second}`, 60_000);
      try {
        broker.child.kill(first);
        await waitFor('the drain to start', () => broker.logs().includes(`${first}: flushing`), 10_000);
        const draining = await health(healthUrl);
        assert.equal(draining === 'refused' ? draining : draining.status, 503);
        closePipes(broker);
        const exited = exitOf(broker.child);
        broker.child.kill(second);
        const exit = await Promise.race([
          exited,
          new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5000).unref()),
        ]);
        assert.notEqual(exit, 'hung', `still running 5 s after the second signal:\n${broker.logs()}`);
        // The signal's default action: the process ends at once, whatever it was doing.
        assert.equal((exit as Exit).signal, second);
        assert.ok((exit as Exit).ms < 1000, `ended ${(exit as Exit).ms} ms after the second signal`);
      } finally {
        await broker.kill();
      }
    });
  }
});
