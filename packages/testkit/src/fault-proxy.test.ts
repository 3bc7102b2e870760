import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';

const DATA = randomBytes(100 * 1024);
const BIG = randomBytes(8 * 1024 * 1024 + 3);

interface TargetLog {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bodySha?: string;
  bodySize?: number;
}

/** A tiny target server: /data, /big, /chunked, /echo (PUT/POST), /teapot. */
async function startTarget() {
  const seen: TargetLog[] = [];
  const server = http.createServer((req, res) => {
    const entry: TargetLog = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
    seen.push(entry);
    const path = (req.url ?? '').split('?')[0];
    if (path === '/data' || path === '/big') {
      const body = path === '/data' ? DATA : BIG;
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': body.length,
        'x-target': 'yes',
      });
      res.end(body);
    } else if (path === '/chunked') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(DATA.subarray(0, 1000));
      setImmediate(() => {
        res.write(DATA.subarray(1000, 50_000));
        res.end(DATA.subarray(50_000));
      });
    } else if (path === '/echo') {
      const hash = createHash('sha256');
      let size = 0;
      req.on('data', (c: Buffer) => {
        hash.update(c);
        size += c.length;
      });
      req.on('end', () => {
        entry.bodySha = hash.digest('hex');
        entry.bodySize = size;
        const body = JSON.stringify({ size, sha256: entry.bodySha });
        res.writeHead(201, 'Stored', { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] });
        res.end(body);
      });
    } else if (path === '/teapot') {
      res.writeHead(418, "I'm a teapot", { 'x-custom': 'brewed' });
      res.end('short and stout');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface Reply {
  status?: number;
  statusMessage?: string;
  headers?: IncomingHttpHeaders;
  body: Buffer;
  /** The response ended with every byte its headers promised. */
  complete: boolean;
  error?: NodeJS.ErrnoException;
}

/** One request on a fresh connection; never throws: failures come back in `error`. */
function request(
  url: string,
  opts: {
    method?: string;
    body?: Buffer | Buffer[];
    headers?: Record<string, string>;
    timeoutMs?: number;
  } = {},
): Promise<Reply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (r: Reply) => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false });
    if (opts.timeoutMs !== undefined) {
      req.setTimeout(opts.timeoutMs, () =>
        req.destroy(Object.assign(new Error('client timeout'), { code: 'ETIMEDOUT' })),
      );
    }
    req.on('error', (error: NodeJS.ErrnoException) =>
      done({ body: Buffer.concat(chunks), complete: false, error }),
    );
    req.on('response', (res) => {
      const base = { status: res.statusCode, statusMessage: res.statusMessage, headers: res.headers };
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (error: NodeJS.ErrnoException) =>
        done({ ...base, body: Buffer.concat(chunks), complete: false, error }),
      );
      res.on('end', () => done({ ...base, body: Buffer.concat(chunks), complete: res.complete }));
      res.on('close', () => done({ ...base, body: Buffer.concat(chunks), complete: res.complete }));
    });
    const body = opts.body;
    if (Array.isArray(body)) {
      for (const b of body) req.write(b);
      req.end();
    } else {
      req.end(body);
    }
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('startFaultProxy', () => {
  let target: Awaited<ReturnType<typeof startTarget>>;
  let proxy: FaultProxy;

  before(async () => {
    target = await startTarget();
    proxy = await startFaultProxy({ target: target.url });
  });
  after(async () => {
    await proxy.close();
    await target.close();
  });
  afterEach(() => {
    proxy.clearFaults();
    proxy.clearRequests();
    target.seen.length = 0;
  });

  it('listens on loopback and reports its url and port', () => {
    assert.match(proxy.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(proxy.url, `http://127.0.0.1:${proxy.port}`);
  });

  it('forwards method, path, query, headers, status, status message and body unchanged', async () => {
    const r = await request(`${proxy.url}/teapot?x=1&y=%2F`, {
      headers: { 'x-client': 'c1', host: 'example.test' },
    });
    assert.equal(r.status, 418);
    assert.equal(r.statusMessage, "I'm a teapot");
    assert.equal(r.headers?.['x-custom'], 'brewed');
    assert.equal(r.body.toString(), 'short and stout');
    assert.equal(target.seen.length, 1);
    assert.equal(target.seen[0]?.url, '/teapot?x=1&y=%2F');
    assert.equal(target.seen[0]?.headers['x-client'], 'c1');
    assert.equal(target.seen[0]?.headers.host, 'example.test', 'Host is forwarded as sent');
  });

  it('streams a large download with its Content-Length', async () => {
    const r = await request(`${proxy.url}/big`);
    assert.equal(r.status, 200);
    assert.equal(r.headers?.['content-length'], String(BIG.length));
    assert.equal(r.body.length, BIG.length);
    assert.equal(sha(r.body), sha(BIG));
    assert.ok(r.complete);
  });

  it('forwards a chunked response', async () => {
    const r = await request(`${proxy.url}/chunked`);
    assert.equal(r.status, 200);
    assert.equal(r.headers?.['content-length'], undefined);
    assert.ok(r.body.equals(DATA));
  });

  it('streams a large upload, chunked or with Content-Length, and multi-valued response headers', async () => {
    const parts = [BIG.subarray(0, 3), BIG.subarray(3, 5_000_000), BIG.subarray(5_000_000)];
    const chunked = await request(`${proxy.url}/echo`, { method: 'PUT', body: parts });
    assert.equal(chunked.status, 201);
    assert.equal(chunked.statusMessage, 'Stored');
    assert.deepEqual(chunked.headers?.['set-cookie'], ['a=1', 'b=2']);
    assert.deepEqual(JSON.parse(chunked.body.toString()), { size: BIG.length, sha256: sha(BIG) });
    const sized = await request(`${proxy.url}/echo`, {
      method: 'POST',
      body: BIG,
      headers: { 'content-length': String(BIG.length), expect: '100-continue' },
    });
    assert.equal(sized.status, 201);
    assert.deepEqual(JSON.parse(sized.body.toString()), { size: BIG.length, sha256: sha(BIG) });
    assert.equal(target.seen[1]?.headers['content-length'], String(BIG.length));
  });

  it('status fault: the next N requests get an S3-style 503 without reaching the target, then requests pass', async () => {
    proxy.setFaults({ times: 2, fault: { kind: 'status', status: 503, body: 's3' } });
    assert.equal(proxy.faultsRemaining(), 2);
    const first = await request(`${proxy.url}/data`);
    const second = await request(`${proxy.url}/echo`, { method: 'PUT', body: DATA });
    const third = await request(`${proxy.url}/data`);
    for (const r of [first, second]) {
      assert.equal(r.status, 503);
      assert.equal(r.headers?.['content-type'], 'application/xml');
      assert.match(r.body.toString(), /<Error><Code>SlowDown<\/Code><Message>[^<]+<\/Message>/);
    }
    assert.equal(third.status, 200);
    assert.ok(third.body.equals(DATA));
    assert.equal(target.seen.length, 1, 'only the third request reached the target');
    assert.equal(proxy.faultsRemaining(), 0);
    assert.deepEqual(
      proxy.requests().map((r) => [r.method, r.url, r.fault, r.forwarded, r.status]),
      [
        ['GET', '/data', 'status', false, 503],
        ['PUT', '/echo', 'status', false, 503],
        ['GET', '/data', undefined, true, 200],
      ],
    );
  });

  it('status fault bodies: azure XML with x-ms-error-code, GCS JSON, custom body and headers, HEAD without body', async () => {
    proxy.setFaults([
      { match: { path: '/azure' }, fault: { kind: 'status', status: 500, body: 'azure' } },
      { match: { path: '/gcs' }, fault: { kind: 'status', status: 503, body: 'gcs', message: 'try later' } },
      {
        match: { path: '/custom' },
        fault: {
          kind: 'status',
          status: 500,
          body: { contentType: 'text/plain', data: 'boom' },
          headers: { 'Retry-After': '2' },
        },
      },
      {
        match: { method: 'HEAD' },
        fault: { kind: 'status', status: 500, body: 's3', code: 'InternalError' },
      },
    ]);
    const az = await request(`${proxy.url}/azure`);
    assert.equal(az.status, 500);
    assert.equal(az.headers?.['x-ms-error-code'], 'InternalError');
    assert.match(az.body.toString(), /<Code>InternalError<\/Code>/);
    const gcs = await request(`${proxy.url}/gcs`);
    assert.equal(gcs.status, 503);
    assert.deepEqual(JSON.parse(gcs.body.toString()), {
      error: { code: 503, message: 'try later', errors: [{ reason: 'backendError', message: 'try later' }] },
    });
    const custom = await request(`${proxy.url}/custom`);
    assert.equal(custom.status, 500);
    assert.equal(custom.headers?.['retry-after'], '2');
    assert.equal(custom.body.toString(), 'boom');
    const head = await request(`${proxy.url}/data`, { method: 'HEAD' });
    assert.equal(head.status, 500);
    assert.equal(head.body.length, 0);
    assert.equal(target.seen.length, 0);
  });

  it('matches by method, path (string or RegExp), url and predicate; `after` lets requests through first', async () => {
    proxy.setFaults([
      { match: { method: ['put', 'POST'], path: /^\/echo$/ }, fault: { kind: 'status', status: 500 } },
      { match: { url: /\?fail=1/ }, fault: { kind: 'status', status: 502 } },
      { match: (r) => r.headers['x-fail'] === 'yes', fault: { kind: 'status', status: 504 } },
      { match: { path: '/teapot' }, after: 1, times: 1, fault: { kind: 'status', status: 503 } },
    ]);
    assert.equal((await request(`${proxy.url}/echo`, { method: 'PUT', body: DATA })).status, 500);
    assert.equal((await request(`${proxy.url}/data`)).status, 200);
    assert.equal((await request(`${proxy.url}/data?fail=1`)).status, 502);
    assert.equal((await request(`${proxy.url}/data`, { headers: { 'x-fail': 'yes' } })).status, 504);
    assert.equal((await request(`${proxy.url}/teapot`)).status, 418, 'the first /teapot passes (after: 1)');
    assert.equal((await request(`${proxy.url}/teapot`)).status, 503, 'the second is faulted');
    assert.equal((await request(`${proxy.url}/teapot`)).status, 418, 'then the rule is used up (times: 1)');
    assert.deepEqual(
      target.seen.map((s) => s.url),
      ['/data', '/teapot', '/teapot'],
    );
    assert.equal(proxy.requests({ method: 'GET', path: '/teapot' }).length, 3);
    assert.equal(proxy.requests().length, 7);
  });

  it('setFaults replaces rules, addFault appends, clearFaults removes them', async () => {
    proxy.setFaults({ fault: { kind: 'status', status: 500 } });
    proxy.setFaults({ fault: { kind: 'status', status: 503 } });
    assert.equal((await request(`${proxy.url}/data`)).status, 503);
    proxy.clearFaults();
    proxy.addFault({ match: { path: '/teapot' }, fault: { kind: 'status', status: 500 } });
    proxy.addFault({ fault: { kind: 'status', status: 501 } });
    assert.equal((await request(`${proxy.url}/teapot`)).status, 500);
    assert.equal((await request(`${proxy.url}/data`)).status, 501);
    proxy.clearFaults();
    assert.equal(proxy.faultsRemaining(), 0);
    assert.equal((await request(`${proxy.url}/data`)).status, 200);
  });

  it('rejects invalid rules', () => {
    assert.throws(() => proxy.setFaults({ fault: { kind: 'status', status: 42 } }), /status must be 100-599/);
    assert.throws(() => proxy.setFaults({ times: -1, fault: { kind: 'delay', ms: 1 } }), /times/);
    assert.throws(() => proxy.setFaults({ fault: { kind: 'truncate', afterBytes: 1.5 } }), /afterBytes/);
    assert.throws(() => proxy.setFaults({ fault: { kind: 'nope' } as never }), /unknown fault kind/);
  });

  it('reset at request: the client sees a connection reset and the target never sees the request', async () => {
    proxy.setFaults({ times: 1, fault: { kind: 'reset', phase: 'request' } });
    const r = await request(`${proxy.url}/echo`, { method: 'PUT', body: DATA });
    assert.ok(r.error, 'the client got an error');
    assert.equal(r.error.code, 'ECONNRESET');
    assert.equal(r.status, undefined);
    assert.equal(target.seen.length, 0);
    assert.equal((await request(`${proxy.url}/data`)).status, 200, 'the next request passes');
  });

  it('reset at response: the target processed the request, the client never gets the reply', async () => {
    proxy.setFaults({ times: 1, fault: { kind: 'reset', phase: 'response' } });
    const r = await request(`${proxy.url}/echo`, { method: 'PUT', body: DATA });
    assert.equal(r.error?.code, 'ECONNRESET');
    assert.equal(r.status, undefined);
    assert.equal(target.seen.length, 1);
    assert.equal(target.seen[0]?.bodySha, sha(DATA), 'the target received the whole body');
    assert.deepEqual(
      proxy.requests().map((x) => [x.fault, x.forwarded, x.status]),
      [['reset', true, 201]],
    );
  });

  it('reset in the body: status and headers arrive, then at most afterBytes bytes and a reset', async () => {
    proxy.setFaults({ times: 1, fault: { kind: 'reset', phase: 'body', afterBytes: 1000 } });
    const r = await request(`${proxy.url}/big`);
    assert.equal(r.status, 200);
    assert.equal(r.headers?.['content-length'], String(BIG.length));
    assert.equal(r.complete, false);
    assert.ok(r.body.length <= 1000, `got ${r.body.length} bytes`);
    assert.ok(r.body.equals(BIG.subarray(0, r.body.length)), 'the bytes that arrived are the right ones');
  });

  it('truncate: full Content-Length, exactly afterBytes bytes, then a clean close the client detects', async () => {
    proxy.setFaults({ times: 1, match: { path: '/big' }, fault: { kind: 'truncate', afterBytes: 4097 } });
    const r = await request(`${proxy.url}/big`);
    assert.equal(r.status, 200);
    assert.equal(r.headers?.['content-length'], String(BIG.length));
    assert.equal(r.body.length, 4097);
    assert.ok(r.body.equals(BIG.subarray(0, 4097)));
    assert.equal(r.complete, false, 'the client sees an incomplete body');
    const again = await request(`${proxy.url}/big`);
    assert.equal(sha(again.body), sha(BIG), 'the next request is whole');
  });

  it('truncate a chunked response: the proxy announces the full length', async () => {
    proxy.setFaults({ times: 1, fault: { kind: 'truncate', afterBytes: 10 } });
    const r = await request(`${proxy.url}/chunked`);
    assert.equal(r.headers?.['content-length'], String(DATA.length));
    assert.equal(r.headers?.['transfer-encoding'], undefined);
    assert.ok(r.body.equals(DATA.subarray(0, 10)));
    assert.equal(r.complete, false);
  });

  it('truncate is detected by fetch too', async () => {
    proxy.setFaults({ times: 1, fault: { kind: 'truncate', afterBytes: 100 } });
    const res = await fetch(`${proxy.url}/data`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(DATA.length));
    await assert.rejects(res.arrayBuffer(), (e: unknown) => e instanceof Error);
  });

  it('delay before forwarding, before the reply and before the body: the data arrives whole, no sooner than the delay', async () => {
    for (const phase of ['request', 'response', 'body'] as const) {
      proxy.setFaults({ times: 1, fault: { kind: 'delay', ms: 150, phase } });
      const started = process.hrtime.bigint();
      const r = await request(`${proxy.url}/data`);
      const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
      assert.equal(r.status, 200, phase);
      assert.ok(r.body.equals(DATA), phase);
      assert.ok(elapsedMs >= 140, `${phase}: answered after ${elapsedMs} ms, before the 150 ms delay`);
    }
  });

  it('delay at request with a client that gives up: the request is never forwarded', async () => {
    proxy.setFaults({ times: 1, fault: { kind: 'delay', ms: 60_000 } });
    const r = await request(`${proxy.url}/echo`, { method: 'PUT', body: DATA, timeoutMs: 100 });
    assert.equal(r.error?.code, 'ETIMEDOUT');
    assert.equal(target.seen.length, 0);
    assert.deepEqual(
      proxy.requests().map((x) => [x.fault, x.forwarded]),
      [['delay', false]],
    );
  });

  it('answers 502 when the target is unreachable', async () => {
    const dead = await startTarget();
    await dead.close();
    const p = await startFaultProxy({ target: dead.url });
    try {
      const r = await request(`${p.url}/data`);
      assert.equal(r.status, 502);
      assert.match(r.body.toString(), /cannot reach/);
      assert.equal(p.requests()[0]?.status, 502);
      assert.ok(p.requests()[0]?.error);
    } finally {
      await p.close();
    }
  });

  it('close() is idempotent, cancels pending delays and stops accepting connections', async () => {
    const t = await startTarget();
    const p = await startFaultProxy({ target: t.url, rewriteHost: true });
    try {
      const ok = await request(`${p.url}/data`);
      assert.equal(t.seen[0]?.headers.host, new URL(t.url).host, 'rewriteHost');
      assert.equal(ok.status, 200);
      p.setFaults({ fault: { kind: 'delay', ms: 60_000 } });
      const pending = request(`${p.url}/data`);
      while (p.requests().length < 2) await new Promise((r) => setImmediate(r));
      await Promise.all([p.close(), p.close()]);
      await p.close();
      const r = await pending;
      assert.ok(r.error, 'the delayed request fails when the proxy closes');
      const refused = await request(`${p.url}/data`);
      assert.equal(refused.error?.code, 'ECONNREFUSED');
      assert.equal(t.seen.length, 1);
    } finally {
      await p.close();
      await t.close();
    }
  });

  it('rejects a non-http target', async () => {
    await assert.rejects(startFaultProxy({ target: 'https://127.0.0.1:1' }), /must be an http:\/\/ URL/);
  });
});
