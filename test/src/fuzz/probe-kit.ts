import { RawConnection } from './raw-client.js';

/**
 * What every probe of the live protocol fuzz run (`e2e/protocol-fuzz.test.ts`) shares: its
 * context, seeded random helpers, byte damage, and connecting.
 */

export interface ProbeContext {
  address: string;
  random: () => number;
  violations: string[];
  count(what: string): void;
  /** Producer id of every hostile produce request (the checker ignores its messages). */
  hostileProducerId: number;
  /** The topic the well-behaved producer writes, and a topic only the probes use. */
  goodTopic: string;
  fuzzTopic: string;
  /** A stored batch of `fuzzTopic`, for ReadObject. */
  object: { key: string; size: number };
  maxFrameBytes: number;
}

export type Probe = (ctx: ProbeContext) => Promise<void>;

export const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
export const pick = <T>(r: () => number, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
export const randomBytes = (r: () => number, n: number) =>
  Buffer.from(Array.from({ length: n }, () => int(r, 0, 255)));
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Damages a copy of `b`: bit flips, absurd multi-byte values (length and count fields), cuts, inserts. */
export function damage(r: () => number, b: Buffer): Buffer {
  let out = Buffer.from(b);
  for (let k = int(r, 1, 3); k > 0 && out.length > 0; k--) {
    const at = int(r, 0, out.length - 1);
    switch (int(r, 0, 3)) {
      case 0:
        out[at]! ^= 1 << int(r, 0, 7);
        break;
      case 1: {
        const top = pick(r, [0x00, 0x7f, 0x80, 0xff]);
        for (let i = 0; i < pick(r, [1, 2, 4, 8]) && at + i < out.length; i++)
          out[at + i] = i === 0 ? top : 0xff;
        break;
      }
      case 2:
        out = out.subarray(0, at);
        break;
      default:
        out = Buffer.concat([out.subarray(0, at), randomBytes(r, int(r, 1, 8)), out.subarray(at)]);
    }
  }
  return out;
}

export async function open(ctx: ProbeContext, label: string): Promise<RawConnection | undefined> {
  try {
    return await RawConnection.open(ctx.address, ctx.violations, label);
  } catch (e) {
    ctx.violations.push(`${label}: could not connect: ${String(e)}`);
    return undefined;
  }
}
