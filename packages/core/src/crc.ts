import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';

/**
 * CRC-32 as used by zlib, gzip, PNG and Ethernet (IEEE 802.3; reflected polynomial 0xEDB88320,
 * initial value and final XOR 0xFFFFFFFF). `crc32(Buffer.from('123456789')) === 0xcbf43926`.
 *
 * Uses the native `zlib.crc32` (Node >= 20.15 / 22.2) and falls back to a slice-by-8
 * implementation in JavaScript on older runtimes. From 4 KiB on it uses `@node-rs/crc32` when its
 * prebuilt binary loads (the broker checks every produced chunk: 4.3-4.6 GB/s against zlib's
 * 1.2-2.0 here at 64 KiB-1 MiB); below that, zlib's call costs less than the addon's.
 */
export type Crc32 = (data: Uint8Array, initial?: number) => number;

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

type AddonCrc32 = (data: Uint8Array, initialState?: number) => number;

/** Buffers from this size on go to the addon; smaller ones cost less through zlib. */
const ADDON_FROM_BYTES = 4096;

function loadAddon(): AddonCrc32 | undefined {
  try {
    const { crc32: addon } = createRequire(import.meta.url)('@node-rs/crc32') as { crc32: AddonCrc32 };
    // Trust it only if it gives the check value and continues a running CRC.
    const whole = addon(Buffer.from('123456789'));
    const continued = addon(Buffer.from('6789'), addon(Buffer.from('12345')));
    return whole === 0xcbf43926 && continued === whole ? addon : undefined;
  } catch {
    return undefined;
  }
}

const addonCrc32 = loadAddon();

/** True when `crc32` runs buffers of 4 KiB and more through the `@node-rs/crc32` addon. */
export const hasAddonCrc32 = addonCrc32 !== undefined;

let tables: Uint32Array[] | undefined;

function crcTables(): Uint32Array[] {
  if (tables) return tables;
  const t: Uint32Array[] = [];
  for (let k = 0; k < 8; k++) t.push(new Uint32Array(256));
  const t0 = t[0]!;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let i = 0; i < 8; i++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t0[n]!;
    for (let k = 1; k < 8; k++) {
      c = t0[c & 0xff]! ^ (c >>> 8);
      t[k]![n] = c >>> 0;
    }
  }
  tables = t;
  return t;
}

/** Pure JavaScript CRC-32 (slice-by-8). Same results as `crc32`; exported for tests and old runtimes. */
export function crc32Js(data: Uint8Array, initial = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = crcTables() as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
  let c = ~initial >>> 0;
  let i = 0;
  const n = data.length;
  const end8 = n - (n % 8);
  while (i < end8) {
    const a = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) ^ c;
    c =
      t7[a & 0xff]! ^
      t6[(a >>> 8) & 0xff]! ^
      t5[(a >>> 16) & 0xff]! ^
      t4[a >>> 24]! ^
      t3[data[i + 4]!]! ^
      t2[data[i + 5]!]! ^
      t1[data[i + 6]!]! ^
      t0[data[i + 7]!]!;
    i += 8;
  }
  while (i < n) c = t0[(c ^ data[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** True when the runtime's native `zlib.crc32` is used. */
export const hasNativeCrc32 = typeof nativeCrc32 === 'function';

/**
 * CRC-32 of `data` as an unsigned 32-bit integer. `initial` continues a running CRC: `crc32(b,
 * crc32(a))` equals the CRC of `a` followed by `b`.
 */
const smallCrc32: Crc32 = hasNativeCrc32
  ? (data, initial = 0) => (nativeCrc32 as (d: Uint8Array, v?: number) => number)(data, initial) >>> 0
  : crc32Js;

export const crc32: Crc32 = addonCrc32
  ? (data, initial = 0) =>
      data.length >= ADDON_FROM_BYTES ? addonCrc32(data, initial) >>> 0 : smallCrc32(data, initial)
  : smallCrc32;

/** CRC-32 of several buffers taken in order as one byte string. */
export function crc32Parts(parts: readonly Uint8Array[], initial = 0): number {
  let c = initial;
  for (const p of parts) c = crc32(p, c);
  return c >>> 0;
}
