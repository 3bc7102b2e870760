import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isConnectionBroken, isRetryableHttpStatus, type ObjectStorage, TransientError } from '@barge/core';
import { type Fault, type FaultProxy, type RequestMatcher, startFaultProxy } from './fault-proxy.js';
import type { StorageFaultBackend } from './storage-fault-suite.js';

export interface ConnectionFaultSuiteOptions {
  /** `http://host:port` of the service: the fault proxy forwards there. */
  target: string;
  /** Error document style of the injected 5xx answers. */
  backend: StorageFaultBackend;
  /** The adapter's per-attempt timeout the factory configured (the blackhole cases wait longer). */
  timeoutMs: number;
  /** Which proxied requests carry an object's bytes up and down. */
  requests: { upload: RequestMatcher; download: RequestMatcher };
  /** Stores `body` under `key` without the proxy, for the download cases. */
  seed(key: string, body: Buffer): Promise<void>;
  /** A key unique to this run. */
  key(name: string): string;
  /**
   * Whether the adapter's per-attempt timeout ends a request that never gets an answer. Default
   * true; set false (saying why) for an SDK whose timeout is only sent to the server.
   */
  blackholeTimesOut?: boolean;
}

/** One way a connection breaks, and the operation that meets it. */
interface Case {
  name: string;
  op: 'get' | 'put';
  fault: Fault;
  /** The adapter's error must carry a real network error (a `cause` `isConnectionBroken` knows), or an HTTP status. */
  expect: 'broken' | 'status';
}

const CASES: readonly Case[] = [
  {
    name: 'reset before forwarding',
    op: 'get',
    fault: { kind: 'reset', phase: 'request' },
    expect: 'broken',
  },
  {
    name: 'reset after the server answered',
    op: 'get',
    fault: { kind: 'reset', phase: 'response' },
    expect: 'broken',
  },
  {
    name: 'body cut off by a reset ("aborted")',
    op: 'get',
    fault: { kind: 'reset', phase: 'body', afterBytes: 100 },
    expect: 'broken',
  },
  { name: 'body truncated (FIN)', op: 'get', fault: { kind: 'truncate', afterBytes: 100 }, expect: 'broken' },
  { name: 'blackholed download', op: 'get', fault: { kind: 'delay', ms: 0 }, expect: 'broken' },
  { name: '503 on download', op: 'get', fault: { kind: 'status', status: 503 }, expect: 'status' },
  { name: '500 on download', op: 'get', fault: { kind: 'status', status: 500 }, expect: 'status' },
  {
    name: 'upload reset before forwarding',
    op: 'put',
    fault: { kind: 'reset', phase: 'request' },
    expect: 'broken',
  },
  { name: 'blackholed upload', op: 'put', fault: { kind: 'delay', ms: 0 }, expect: 'broken' },
];

/**
 * Every way a connection breaks becomes a `TransientError` of the adapter, built from the real
 * error its SDK raised: the adapter under test (made by `factory` with its own retries off and a
 * per-attempt timeout of `timeoutMs`) talks to the service through the testkit fault proxy, which
 * resets connections, cuts or truncates bodies, answers 5xx or never answers at all. Each
 * failure must come within a few timeouts (a blackhole must not hang), be retryable, and carry
 * either a cause that core's `isConnectionBroken` recognises or a retryable HTTP status.
 */
export function describeConnectionFaults(
  name: string,
  factory: (proxyUrl: string) => ObjectStorage,
  options: ConnectionFaultSuiteOptions,
): void {
  describe(name, () => {
    let proxy: FaultProxy;
    let storage: ObjectStorage;
    const key = options.key('connection-faults/object');
    const body = Buffer.alloc(64 * 1024, 7);
    before(async () => {
      proxy = await startFaultProxy({ target: options.target });
      storage = factory(proxy.url);
      await options.seed(key, body);
    });
    after(async () => {
      await storage?.close();
      await proxy?.close();
    });

    const cases = CASES.filter((c) => options.blackholeTimesOut !== false || c.fault.kind !== 'delay');
    for (const c of cases) {
      it(`${c.op}: ${c.name} is a TransientError carrying the SDK's error`, async () => {
        const fault: Fault =
          c.fault.kind === 'delay'
            ? { kind: 'delay', ms: options.timeoutMs * 6 }
            : c.fault.kind === 'status'
              ? { ...c.fault, body: options.backend }
              : c.fault;
        proxy.clearRequests();
        proxy.setFaults({
          match: c.op === 'get' ? options.requests.download : options.requests.upload,
          fault,
        });
        const started = Date.now();
        const e = await (c.op === 'get'
          ? storage.get(key)
          : storage.put(options.key('connection-faults/put'), body)
        ).then(
          () => undefined,
          (err: unknown) => err,
        );
        const ms = Date.now() - started;
        proxy.clearFaults();
        assert.ok(e instanceof TransientError, `expected a TransientError, got ${String(e)}`);
        assert.equal(e.retryable, true);
        assert.ok(ms < options.timeoutMs * 4, `failed within a few timeouts (${ms} ms)`);
        assert.ok(
          proxy.requests().some((r) => r.fault !== undefined),
          'the fault was applied',
        );
        if (c.expect === 'broken') {
          // The adapter's error or one in its cause chain (the SDK's own) says the connection broke.
          assert.ok(isConnectionBroken(e), `a broken connection: ${String(e)} / cause: ${String(e.cause)}`);
        } else {
          assert.match(e.message, /50[03]/, 'the status is named');
          assert.ok(isRetryableHttpStatus(Number(/50[03]/.exec(e.message)?.[0])));
        }
      });
    }
  });
}
