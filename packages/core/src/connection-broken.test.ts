import assert from 'node:assert/strict';
import http from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { PassThrough, pipeline, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isConnectionBroken, isRetryableHttpStatus, readExactly } from './adapter-kit.js';

/**
 * Core's classifier against the errors Node itself raises when a connection breaks, produced
 * for real: servers that reset, cut a body short or never answer, and refused connections.
 */
describe('isConnectionBroken with real Node errors', () => {
  let server: Server;
  let port: number;
  const sockets = new Set<Socket>();
  /** How the server treats the next connection. */
  let mode: 'reset-before-answer' | 'reset-mid-body' | 'silent' = 'silent';

  before(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      socket.once('data', () => {
        if (mode === 'reset-before-answer') socket.resetAndDestroy();
        else if (mode === 'reset-mid-body') {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial', () => {
            setTimeout(() => socket.resetAndDestroy(), 20);
          });
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  /** The error of one `http.get` (including reading its body), or undefined if it succeeded. */
  const httpError = (timeoutMs?: number) =>
    new Promise<unknown>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        res.on('error', resolve);
        res.on('aborted', () => {});
        res.resume();
        res.on('end', () => resolve(undefined));
      });
      req.on('error', resolve);
      if (timeoutMs)
        req.setTimeout(timeoutMs, () =>
          req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
        );
    });

  it('a reset before the answer ("socket hang up", ECONNRESET)', async () => {
    mode = 'reset-before-answer';
    const e = await httpError();
    assert.ok(e instanceof Error, 'the request failed');
    assert.match(`${(e as NodeJS.ErrnoException).code} ${e.message}`, /ECONNRESET|socket hang up/);
    assert.equal(isConnectionBroken(e), true);
  });

  it('a response body cut off by a reset ("Error: aborted")', async () => {
    mode = 'reset-mid-body';
    const e = await httpError();
    assert.ok(e instanceof Error, 'the body read failed');
    assert.match(e.message, /aborted|ECONNRESET/);
    assert.equal(isConnectionBroken(e), true);
  });

  it('fetch (undici) against a reset server: TypeError "fetch failed" whose cause says why', async () => {
    mode = 'reset-before-answer';
    const e = await fetch(`http://127.0.0.1:${port}/`).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(e instanceof TypeError, 'undici reports a TypeError');
    assert.equal(isConnectionBroken(e), true, `classified through its cause: ${String((e as Error).cause)}`);
  });

  it('fetch body cut off mid-way ("terminated")', async () => {
    mode = 'reset-mid-body';
    const e = await fetch(`http://127.0.0.1:${port}/`)
      .then((r) => r.arrayBuffer())
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    assert.ok(e instanceof Error, 'the body read failed');
    assert.equal(isConnectionBroken(e), true, `${String(e)} / ${String((e as Error).cause)}`);
  });

  it('a server that never answers: the request timeout', async () => {
    mode = 'silent';
    const e = await httpError(100);
    assert.equal(isConnectionBroken(e), true);
    const timeout = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(100) }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.equal((timeout as Error).name, 'TimeoutError');
    assert.equal(isConnectionBroken(timeout), true);
  });

  it('a refused connection (ECONNREFUSED)', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const e = await new Promise<unknown>((resolve) => {
      http.get({ host: '127.0.0.1', port: freePort, agent: false }).on('error', resolve);
    });
    assert.equal((e as NodeJS.ErrnoException).code, 'ECONNREFUSED');
    assert.equal(isConnectionBroken(e), true);
  });

  it('a stream that ends before its end (premature close) and a short body read', async () => {
    const e = await new Promise<unknown>((resolve) => {
      const source = new PassThrough();
      pipeline(source, new PassThrough(), (err) => resolve(err));
      source.write('x');
      source.destroy();
    });
    assert.equal((e as NodeJS.ErrnoException).code, 'ERR_STREAM_PREMATURE_CLOSE');
    assert.equal(isConnectionBroken(e), true);
    const short = await readExactly(Readable.from([Buffer.from('abc')]), 10, 'test get').then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.equal(isConnectionBroken(short), true, String(short));
  });

  it('is false for what is not a broken connection: a caller abort, a plain error, non-errors', async () => {
    const ac = new AbortController();
    ac.abort();
    const aborted = await fetch(`http://127.0.0.1:${port}/`, { signal: ac.signal }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.equal((aborted as Error).name, 'AbortError');
    assert.equal(isConnectionBroken(aborted), false, 'the caller asked for the abort');
    assert.equal(isConnectionBroken(new Error('The specified key does not exist.')), false);
    assert.equal(isConnectionBroken(Object.assign(new Error('denied'), { code: 'EACCES' })), false);
    assert.equal(isConnectionBroken(undefined), false);
    assert.equal(isConnectionBroken('ECONNRESET'), false, 'a string is not an error');
    const loop: { cause?: unknown; message: string } = { message: 'loop' };
    loop.cause = loop;
    assert.equal(isConnectionBroken(loop), false, 'a cause cycle ends');
  });

  it('finds the broken connection in a cause chain and in an AggregateError', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    assert.equal(
      isConnectionBroken(new Error('wrapped', { cause: new Error('again', { cause: reset }) })),
      true,
    );
    assert.equal(isConnectionBroken(new AggregateError([new Error('x'), reset], 'all failed')), true);
  });
});

describe('isRetryableHttpStatus', () => {
  it('5xx, 408 and 429 are retryable; other statuses and none are not', () => {
    for (const s of [500, 502, 503, 504, 408, 429]) assert.equal(isRetryableHttpStatus(s), true, String(s));
    for (const s of [200, 400, 401, 403, 404, 409, 412, 416, undefined]) {
      assert.equal(isRetryableHttpStatus(s), false, String(s));
    }
  });
});
