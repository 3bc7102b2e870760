import { ApiKey, encodeRequest, joinParts } from '@barge/core';
import { open, type Probe, sleep } from './probe-kit.js';
import { RawConnection } from './raw-client.js';

/**
 * Slow and silent clients of the live protocol fuzz run (issue 10 findings 2-4): idle sockets,
 * slowloris, a client that pipelines ReadObject and never reads, partial frames at the size
 * limit. The run includes those it is told to (`SLOW_CLIENT_PROBES_ON` in the test).
 */

export interface SlowClientLimits {
  idleTimeoutMs: number;
  requestReadTimeoutMs: number;
}

/** Connections that never send a byte must be closed once idle for `idleTimeoutMs`. */
const idleProbe =
  (limits: SlowClientLimits): Probe =>
  async (ctx) => {
    const conns = (await Promise.all(Array.from({ length: 20 }, () => open(ctx, 'idle')))).filter(
      (c) => c !== undefined,
    );
    const closed = await Promise.all(conns.map((c) => c.closesWithin(limits.idleTimeoutMs + 5_000)));
    const open_ = closed.filter((x) => !x).length;
    if (open_ > 0)
      ctx.violations.push(
        `idle: ${open_} of ${conns.length} silent connections still open after ${limits.idleTimeoutMs + 5_000} ms`,
      );
    for (const c of conns) c.destroy();
    ctx.count('idle connections');
  };

/** A frame sent a few bytes a second must be cut off after `requestReadTimeoutMs`. */
const slowlorisProbe =
  (limits: SlowClientLimits): Probe =>
  async (ctx) => {
    const c = await open(ctx, 'slowloris');
    if (!c) return;
    const frame = RawConnection.frame(ApiKey.Metadata, 1, 1, Buffer.alloc(4096));
    const deadline = Date.now() + limits.requestReadTimeoutMs + 5_000;
    for (let i = 0; i < frame.length && !c.isClosed && Date.now() < deadline; i++) {
      void c.write(frame.subarray(i, i + 1));
      await sleep(250);
    }
    if (!c.isClosed)
      ctx.violations.push(
        `slowloris: still connected ${limits.requestReadTimeoutMs + 5_000} ms into a 1-byte-per-250-ms frame`,
      );
    c.destroy();
    ctx.count('slowloris');
  };

/** 200 pipelined ReadObject requests for the whole stored object, never reading a reply. */
const neverReadingProbe: Probe = async (ctx) => {
  const c = await open(ctx, 'never reading');
  if (!c) return;
  c.socket.pause();
  const parts: Buffer[] = [];
  for (let i = 0; i < 200; i++) {
    parts.push(
      joinParts(
        encodeRequest(ApiKey.ReadObject, 1, i + 1, { key: ctx.object.key, offset: 0, length: 0xffffffff }),
      ),
    );
  }
  void c.write(Buffer.concat(parts));
  await sleep(8_000);
  c.destroy();
  ctx.count('never-reading client');
};

/** Connections each holding all but one byte of a frame at the size limit. */
const partialFramesProbe: Probe = async (ctx) => {
  const conns = (await Promise.all(Array.from({ length: 12 }, () => open(ctx, 'partial frame')))).filter(
    (c) => c !== undefined,
  );
  const body = Buffer.alloc(ctx.maxFrameBytes - 8 - 1);
  for (const c of conns) {
    const head = RawConnection.frame(ApiKey.Produce, 1, 1, Buffer.alloc(0));
    head.writeUInt32BE(ctx.maxFrameBytes, 0);
    void c.write(Buffer.concat([head, body]));
  }
  await sleep(8_000);
  for (const c of conns) c.destroy();
  ctx.count('partial frames at the size limit');
};

export type SlowClientProbeName = 'idle' | 'slowloris' | 'never-reading' | 'partial-frames';

export function slowClientProbes(limits: SlowClientLimits): Record<SlowClientProbeName, Probe> {
  return {
    idle: idleProbe(limits),
    slowloris: slowlorisProbe(limits),
    'never-reading': neverReadingProbe,
    'partial-frames': partialFramesProbe,
  };
}
