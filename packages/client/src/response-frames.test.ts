import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { ProtocolError } from '@barge/core';
import { READ_BUFFER_BYTES, ResponseFrames } from './response-frames.js';

/** Frames of every size class: empty, small, exactly filling the read buffer, one byte over, large. */
const SIZES = [0, 1, 100, READ_BUFFER_BYTES - 4, READ_BUFFER_BYTES - 3, 70_000, 3, 2_500_000, 17];

function frameOf(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function stream(frames: readonly Buffer[]): Buffer {
  return Buffer.concat(
    frames.flatMap((f) => {
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(f.length);
      return [prefix, f];
    }),
  );
}

/** Feeds `bytes` as a socket would: each read fills at most `readSize(i)` bytes of `nextBuffer()`. */
function feed(frames: ResponseFrames, bytes: Buffer, readSize: (i: number) => number): Buffer[] {
  const targets: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const target = frames.nextBuffer();
    assert.ok(target.length > 0, 'a read buffer is never empty');
    targets.push(target);
    const n = Math.min(target.length, readSize(i), bytes.length - at);
    bytes.copy(target, 0, at, at + n);
    at += n;
    frames.received(n);
  }
  return targets;
}

describe('ResponseFrames', () => {
  const sent = SIZES.map(frameOf);
  const splits: [string, (i: number) => number][] = [
    ['1-byte reads', () => 1],
    ['7-byte reads', () => 7],
    ['reads as large as the buffer', () => Number.POSITIVE_INFINITY],
    ['uneven reads', (i) => [3, 5000, 65_536, 2, 300_000, 40_000][i % 6]!],
  ];
  for (const [name, size] of splits) {
    it(`cuts a stream into its frames with ${name}`, { timeout: 60_000 }, () => {
      const got: Buffer[] = [];
      const frames = new ResponseFrames(16 * 1024 * 1024, (f) => got.push(f));
      // Only checked at the end: a frame left pointing into a reused read buffer would have changed.
      feed(frames, stream(sent), size);
      assert.equal(got.length, sent.length);
      for (const [i, f] of got.entries()) assert.ok(f.equals(sent[i]!), `frame ${i} (${SIZES[i]} bytes)`);
    });
  }

  it('reads a frame larger than its read buffer in place, into a buffer holding only that frame', () => {
    const got: Buffer[] = [];
    const frames = new ResponseFrames(16 * 1024 * 1024, (f) => got.push(f));
    const large = frameOf(1_000_000, 7);
    const targets = feed(frames, stream([large]), () => 100_000);
    assert.equal(got.length, 1);
    const frame = got[0]!;
    assert.ok(frame.equals(large));
    assert.equal(frame.buffer.byteLength, large.length, 'pins nothing besides the frame');
    const inPlace = targets.filter((t) => t.buffer === frame.buffer);
    assert.ok(inPlace.length >= 9, `${inPlace.length} reads landed in the frame`);
  });

  it('rejects a length prefix above the limit with ProtocolError', () => {
    const frames = new ResponseFrames(1000, () => assert.fail('no frame expected'));
    assert.throws(
      () => feed(frames, stream([frameOf(1001, 0)]).subarray(0, 8), () => 8),
      (e: unknown) => e instanceof ProtocolError && /1001 bytes exceeds the limit of 1000/.test(e.message),
    );
  });

  it('takes socket reads through the onread option', { timeout: 60_000 }, async () => {
    const server = net.createServer((s) => s.end(stream(sent)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const got: Buffer[] = [];
      const frames = new ResponseFrames(16 * 1024 * 1024, (f) => got.push(f));
      const { port } = server.address() as net.AddressInfo;
      const socket = net.connect({
        host: '127.0.0.1',
        port,
        onread: frames.onread((e) => socket.destroy(e)),
      });
      await once(socket, 'close');
      assert.equal(got.length, sent.length);
      for (const [i, f] of got.entries()) assert.ok(f.equals(sent[i]!), `frame ${i} (${SIZES[i]} bytes)`);
    } finally {
      server.close();
    }
  });

  it('reports what a frame handler throws through onread, and stops reading', async () => {
    const server = net.createServer((s) => s.end(stream(sent)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      server.on('connection', (s) => s.on('error', () => {})); // reset by the client
      let frames = 0;
      const reader = new ResponseFrames(16 * 1024 * 1024, () => {
        if (++frames === 2) throw new Error('bad frame');
      });
      const { port } = server.address() as net.AddressInfo;
      const socket = net.connect({
        host: '127.0.0.1',
        port,
        onread: reader.onread((e) => socket.destroy(e)),
      });
      const [error] = (await once(socket, 'error')) as [Error];
      assert.equal(error.message, 'bad frame');
      assert.equal(frames, 2);
    } finally {
      server.close();
    }
  });
});
