import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { ApiKey, ConfigError, ErrorCode, encodeRequest, type TlsConfig } from '@barge/core';
import { issueTestCertificate, makeTestCertificates, type TestCertificates } from '@barge/testkit';
import { pino } from 'pino';
import { silent, TestClient } from '../test-helpers.js';
import type { Connection } from './connection.js';
import { type CloseReason, TcpServer } from './tcp-server.js';
import { TlsContext } from './tls-context.js';
import { TLS_REQUIRED_MESSAGE } from './tls-listener.js';

const LIMITS = {
  maxConnections: 100,
  maxConnectionsPerAddress: 100,
  frameBufferBytes: 1 << 24,
  maxFrameBytes: 1 << 20,
  responseBacklogBytes: 1 << 20,
  idleTimeoutMs: 0,
  requestReadTimeoutMs: 5000,
};

let dir: string;
let certs: TestCertificates;
let stranger: TestCertificates;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'barge-tls-'));
  certs = await makeTestCertificates(path.join(dir, 'ours'), { clients: ['alice'] });
  stranger = await makeTestCertificates(path.join(dir, 'theirs'), {
    clients: ['mallory'],
    caName: 'Other CA',
  });
});
after(() => rm(dir, { recursive: true, force: true }));

function tlsConfig(clientAuth: TlsConfig['clientAuth'], files: Partial<TlsConfig> = {}): TlsConfig {
  return {
    cert: certs.server.certFile,
    key: certs.server.keyFile,
    ca: certs.ca.certFile,
    clientAuth,
    ...files,
  };
}

/** A TLS listener whose first request resolves `requests` with the connection it came on. */
async function listener(clientAuth: TlsConfig['clientAuth']) {
  const closedBy: CloseReason[] = [];
  const requests: Connection[] = [];
  const server = new TcpServer(
    silent,
    LIMITS,
    {
      request: (conn) => requests.push(conn),
      closed: () => {},
      countError: () => {},
      connectionCount: () => {},
      closedBy: (reason) => closedBy.push(reason),
      frameBufferBytes: () => {},
    },
    new TlsContext(tlsConfig(clientAuth), silent),
  );
  await server.start('127.0.0.1:0');
  const port = server.address!.port;
  return { server, port, requests, closedBy };
}

/** Connects with TLS and sends one ApiVersions request; resolves once the handshake is done. */
async function tlsClient(port: number, options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  const socket = tls.connect({ host: '127.0.0.1', port, ca: certs.ca.cert, ...options });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  socket.on('error', () => {});
  for (const part of encodeRequest(ApiKey.ApiVersions, 1, 1, { clientId: 't', versions: [] }))
    socket.write(part);
  return socket;
}

async function until<T>(what: string, f: () => T | undefined): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Resolves with the error that ends `socket`, or undefined when it closes without one. */
function outcome(socket: tls.TLSSocket): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let error: Error | undefined;
    socket.on('error', (e) => {
      error = e;
    });
    socket.on('close', () => resolve(error));
  });
}

describe('TLS listener', () => {
  it('clientAuth require: the connection is encrypted and carries the verified client certificate', async () => {
    const { server, port, requests } = await listener('require');
    try {
      const alice = certs.clients.alice!;
      const socket = await tlsClient(port, { cert: alice.cert, key: alice.key });
      const conn = await until('the request', () => requests[0]);
      assert.equal(conn.encrypted, true);
      assert.equal(conn.peerCertificate()?.subject.CN, 'alice');
      socket.destroy();
    } finally {
      server.destroyAll();
      await server.stopAccepting();
    }
  });

  it('clientAuth require: a client without a certificate, or with one from another CA, sends nothing', async () => {
    const { server, port, requests, closedBy } = await listener('require');
    try {
      const bare = tls.connect({ host: '127.0.0.1', port, ca: certs.ca.cert });
      const bareOutcome = outcome(bare);
      bare.once('secureConnect', () => {
        for (const part of encodeRequest(ApiKey.ApiVersions, 1, 1, { clientId: 't', versions: [] }))
          bare.write(part);
      });
      assert.match(String((await bareOutcome)?.message), /certificate required/);
      const mallory = stranger.clients.mallory!;
      const foreign = tls.connect({
        host: '127.0.0.1',
        port,
        ca: certs.ca.cert,
        cert: mallory.cert,
        key: mallory.key,
      });
      // node ends the connection without an alert: the client sees it closed.
      await outcome(foreign);
      await until('both refusals counted', () => (closedBy.length >= 2 ? true : undefined));
      assert.deepEqual(closedBy, ['tls_handshake', 'client_certificate']);
      assert.equal(requests.length, 0);
    } finally {
      await server.stopAccepting();
    }
  });

  it('clientAuth request: no certificate is served without one; an untrusted one is refused', async () => {
    const { server, port, requests, closedBy } = await listener('request');
    try {
      const socket = await tlsClient(port, {});
      const conn = await until('the request', () => requests[0]);
      assert.equal(conn.encrypted, true);
      assert.equal(conn.peerCertificate(), undefined);
      socket.destroy();
      const mallory = stranger.clients.mallory!;
      const foreign = await tlsClient(port, { cert: mallory.cert, key: mallory.key });
      await outcome(foreign);
      assert.deepEqual(closedBy, ['client_certificate']);
      assert.equal(requests.length, 1);
    } finally {
      server.destroyAll();
      await server.stopAccepting();
    }
  });

  it('answers a client without TLS with an error saying TLS is required, and closes', async () => {
    const { server, port, requests, closedBy } = await listener('none');
    try {
      const plain = await TestClient.connect(port);
      const reply = await plain.request(ApiKey.ApiVersions, { clientId: 't', versions: [] });
      assert.equal(reply.errorCode, ErrorCode.INVALID_REQUEST);
      assert.equal(reply.message, TLS_REQUIRED_MESSAGE);
      await plain.whenClosed();
      assert.deepEqual(closedBy, ['tls_required']);
      assert.equal(requests.length, 0);
    } finally {
      await server.stopAccepting();
    }
  });
});

describe('TlsContext', () => {
  it('names the field and path of a missing or unusable file, and never prints its contents', async () => {
    const missing = path.join(dir, 'missing.crt');
    assert.throws(
      () => new TlsContext(tlsConfig('none', { cert: missing }), silent),
      (e: unknown) =>
        e instanceof ConfigError && e.path === 'security.tls.cert' && e.message.includes(missing),
    );
    assert.throws(
      () => new TlsContext(tlsConfig('none', { key: certs.server.certFile }), silent),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.path === 'security.tls.key' &&
        e.message.includes(certs.server.certFile) &&
        !e.message.includes('BEGIN'),
    );
    assert.throws(
      () => new TlsContext(tlsConfig('none', { key: certs.clients.alice!.keyFile }), silent),
      (e: unknown) => e instanceof ConfigError && /cannot be used with the certificate/.test(e.message),
    );
    assert.throws(
      () => new TlsContext({ ...tlsConfig('require'), ca: undefined }, silent),
      (e: unknown) => e instanceof ConfigError && e.path === 'security.tls.ca',
    );
  });

  it('reload swaps the certificate of new connections; a bad file keeps the current one', async () => {
    const files = path.join(dir, 'reload');
    const first = await issueTestCertificate(certs.ca, files, {
      name: 'server',
      cn: 'localhost',
      use: 'server',
    });
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const context = new TlsContext(tlsConfig('none', { cert: first.certFile, key: first.keyFile }), log);
    const server = tls.createServer(context.listenerOptions(), (s) => s.end());
    context.serve(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const fingerprint = async () => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: certs.ca.cert });
      await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject));
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      return fp;
    };
    try {
      assert.equal(await fingerprint(), first.fingerprint256);
      const second = await issueTestCertificate(certs.ca, files, {
        name: 'server',
        cn: 'localhost',
        use: 'server',
      });
      assert.equal(context.reload(), true);
      assert.equal(await fingerprint(), second.fingerprint256);
      await writeFile(first.certFile, 'not a certificate');
      assert.equal(context.reload(), false);
      assert.equal(await fingerprint(), second.fingerprint256);
      const text = lines.join('');
      assert.match(text, /TLS certificate reloaded/);
      assert.match(text, /TLS reload failed; keeping the current certificate/);
      assert.ok(text.includes(first.certFile), 'the logs name the files');
      assert.ok(!text.includes('PRIVATE KEY') && !text.includes('BEGIN'), 'the logs hold no PEM');
    } finally {
      server.close();
    }
  });
});
