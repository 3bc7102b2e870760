import { ConfigError } from './errors.js';

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** `8MiB`, `512 KiB`, `1000` (bytes) or a number → bytes. */
export function parseSize(value: string | number, path = 'size'): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new ConfigError(`${path} must be a non-negative integer number of bytes, got ${value}`, path);
    }
    return value;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = UNITS[(m?.[2] ?? '').toLowerCase() || 'b'];
  if (!m || unit === undefined) {
    throw new ConfigError(
      `${path} must be a size such as 1048576, "512KiB" or "8MiB" (units B, KB, MB, GB, KiB, MiB, GiB), got ${JSON.stringify(value)}`,
      path,
    );
  }
  return Math.round(Number(m[1]) * unit);
}
