import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The real test services started by `scripts/services.sh`. */
export type ServiceName = 's3' | 'gcs' | 'azure' | 'kafka';

/** The environment variable that holds each service's address. */
export const SERVICE_ENV_VARS = {
  s3: 'BARGE_TEST_S3_ENDPOINT',
  gcs: 'BARGE_TEST_GCS_ENDPOINT',
  azure: 'BARGE_TEST_AZURE_CONNECTION_STRING',
  kafka: 'BARGE_TEST_KAFKA_BROKERS',
} as const satisfies Record<ServiceName, string>;

/** Where `scripts/services.sh` writes the `BARGE_TEST_*` variables, relative to the repo root. */
export const SERVICES_ENV_FILE = path.join('.cache', 'services', 'services.env');

/**
 * The address of a running test service: `BARGE_TEST_S3_ENDPOINT` (s3), `BARGE_TEST_GCS_ENDPOINT`
 * (gcs), `BARGE_TEST_AZURE_CONNECTION_STRING` (azure) or `BARGE_TEST_KAFKA_BROKERS` (kafka, a
 * comma-separated `host:port` list).
 *
 * Reads `process.env` first, then `services.env` in `$BARGE_SERVICES_CACHE` or in
 * `.cache/services/` of the nearest directory at or above `process.cwd()` that has one. Throws an
 * `Error` saying to run `scripts/services.sh start <name>` when neither has the variable.
 */
export function serviceEnv(name: ServiceName): string {
  const variable = SERVICE_ENV_VARS[name];
  if (variable === undefined) {
    throw new Error(
      `serviceEnv: unknown service ${JSON.stringify(name)}; expected one of ${Object.keys(SERVICE_ENV_VARS).join(', ')}`,
    );
  }
  const fromProcess = process.env[variable];
  if (fromProcess !== undefined && fromProcess !== '') return fromProcess;
  const file = findServicesEnvFile();
  if (file !== undefined) {
    const value = parseEnvFile(readFileSync(file, 'utf8'))[variable];
    if (value !== undefined && value !== '') return value;
  }
  const looked =
    file === undefined ? `no ${SERVICES_ENV_FILE} found at or above ${process.cwd()}` : `not in ${file}`;
  throw new Error(
    `${variable} is not set (${looked}): run scripts/services.sh start ${name} from the repository root`,
  );
}

/** The `services.env` file `serviceEnv` reads, or undefined when there is none. */
export function findServicesEnvFile(from: string = process.cwd()): string | undefined {
  const cache = process.env.BARGE_SERVICES_CACHE;
  if (cache !== undefined && cache !== '') {
    const f = path.resolve(cache, 'services.env');
    if (existsSync(f)) return f;
  }
  let dir = path.resolve(from);
  for (;;) {
    const f = path.join(dir, SERVICES_ENV_FILE);
    if (existsSync(f)) return f;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Parses the `KEY=value` lines `scripts/services.sh` writes. Values may be wrapped in single
 * quotes (taken literally) or double quotes; `#` lines, blank lines and an `export ` prefix are
 * ignored.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1] as string;
    let value = (m[2] as string).trim();
    if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) {
      value = value.slice(1, -1);
    } else if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
    }
    out[key] = value;
  }
  return out;
}

/**
 * A fresh id for isolating a test: `<prefix>-<base36 time>-<12 hex>`, lowercase letters, digits
 * and `-` only, so it is also valid as a bucket, container, topic or group name when `prefix` is.
 */
export function randomId(prefix = 'barge'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}
