import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { issueTestCertificate, makeTestCertificates, type TestCertificates } from './test-certificates.js';

describe('makeTestCertificates', () => {
  let dir: string;
  let certs: TestCertificates;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'barge-certs-'));
    certs = await makeTestCertificates(dir, { clients: ['alice'] });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('makes a server certificate 127.0.0.1 verifies against the CA, and a client certificate with the chosen CN', async () => {
    const server = tls.createServer({
      cert: certs.server.cert,
      key: certs.server.key,
      ca: certs.ca.cert,
      requestCert: true,
      rejectUnauthorized: true,
    });
    const seen = new Promise<string>((resolve) =>
      server.on('secureConnection', (socket) => {
        resolve(String(socket.getPeerCertificate().subject.CN));
        socket.end();
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        ca: certs.ca.cert,
        cert: certs.clients.alice?.cert,
        key: certs.clients.alice?.key,
      });
      await new Promise<void>((resolve, reject) =>
        socket.once('secureConnect', resolve).once('error', reject),
      );
      assert.equal(socket.authorized, true);
      assert.equal(socket.getPeerCertificate().fingerprint256, certs.server.fingerprint256);
      assert.equal(await seen, 'alice');
      socket.destroy();
    } finally {
      server.close();
    }
  });

  it('issues another server certificate from the same CA with a different fingerprint', async () => {
    const second = await issueTestCertificate(certs.ca, dir, {
      name: 'server-2',
      cn: 'localhost',
      use: 'server',
    });
    assert.notEqual(second.fingerprint256, certs.server.fingerprint256);
    assert.match(second.certFile, /server-2\.crt$/);
  });
});
