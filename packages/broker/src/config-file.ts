import { readFile } from 'node:fs/promises';
import { type BrokerConfig, ConfigError, errorMessage, parseBrokerConfig } from '@barge/core';
import { parse as parseYaml } from 'yaml';

/** Config sections that `BARGE_<SECTION>_<KEY>` environment variables override. */
const ENV_SECTIONS = ['broker', 'storage', 'pointers', 'upload', 'limits', 'security', 'cluster'] as const;

/** Extra names for common overrides. */
const ENV_ALIASES: Record<string, [section: string, key: string]> = {
  BARGE_DATA_DIR: ['broker', 'dataDir'],
  BARGE_LISTEN: ['broker', 'listen'],
  BARGE_ADMIN: ['broker', 'admin'],
};

function camel(s: string): string {
  return s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Env values are JSON when they parse as JSON (numbers, booleans, arrays, objects), strings otherwise. */
function envValue(raw: string): unknown {
  const t = raw.trim();
  if (/^(-?\d+(\.\d+)?|true|false|null|\[.*\]|\{.*\})$/s.test(t)) {
    try {
      return JSON.parse(t);
    } catch {
      return raw;
    }
  }
  return raw;
}

/**
 * The environment overrides, as a partial config: `BARGE_<SECTION>_<KEY>` sets `<section>.<key>`
 * with `<KEY>` in upper snake case turned into camelCase (`BARGE_BROKER_LISTEN` → `broker.listen`,
 * `BARGE_UPLOAD_HEDGE_AFTER_MS` → `upload.hedgeAfterMs`, `BARGE_STORAGE_BUCKET` → `storage.bucket`,
 * `BARGE_POINTERS_BROKERS='["k1:9092"]'` → `pointers.brokers`), for the sections broker, storage,
 * pointers, upload, limits, security and cluster (`BARGE_SECURITY_ALLOW_ANONYMOUS=true`, `BARGE_CLUSTER_ID=prod`,
 * `BARGE_SECURITY_AUTHENTICATION='["SCRAM-SHA-512"]'`). `BARGE_DATA_DIR`, `BARGE_LISTEN` and `BARGE_ADMIN` are short for
 * `broker.dataDir`, `broker.listen` and `broker.admin`. Other `BARGE_*` variables are ignored.
 */
export function envOverrides(
  env: Record<string, string | undefined>,
): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  const set = (section: string, key: string, value: string) => {
    out[section] ??= {};
    out[section][key] = envValue(value);
  };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.startsWith('BARGE_')) continue;
    const alias = ENV_ALIASES[name];
    if (alias) {
      set(alias[0], alias[1], value);
      continue;
    }
    for (const section of ENV_SECTIONS) {
      const prefix = `BARGE_${section.toUpperCase()}_`;
      if (name.startsWith(prefix) && name.length > prefix.length) {
        set(section, camel(name.slice(prefix.length)), value);
        break;
      }
    }
  }
  return out;
}

/**
 * Reads the YAML config file (none: the embedded default), applies `BARGE_*` environment
 * overrides (see `envOverrides`), and validates with core's schema. Errors are `ConfigError`s
 * naming the file and field. With neither file nor overrides: local storage under
 * `./barge-data/objects`, the embedded pointer queue under `./barge-data`, listening on
 * 127.0.0.1:7070.
 */
export async function loadConfigFile(
  path: string | undefined,
  env: Record<string, string | undefined> = process.env,
): Promise<BrokerConfig> {
  let raw: Record<string, unknown> = {};
  if (path !== undefined) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${path}: ${errorMessage(e)}`, '', { cause: e });
    }
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (e) {
      throw new ConfigError(`config file ${path} is not valid YAML: ${errorMessage(e)}`, '', { cause: e });
    }
    if (doc === null || doc === undefined) doc = {};
    if (typeof doc !== 'object' || Array.isArray(doc)) {
      throw new ConfigError(`config file ${path} must hold a YAML mapping at the top level`, '');
    }
    raw = doc as Record<string, unknown>;
  }
  const merged: Record<string, unknown> = { ...raw };
  for (const [section, values] of Object.entries(envOverrides(env))) {
    const current = merged[section];
    const base = typeof current === 'object' && current !== null && !Array.isArray(current) ? current : {};
    const b = base as Record<string, unknown>;
    // Switching adapter by env drops the file's keys for the other adapter.
    const keep = 'adapter' in values && b.adapter !== undefined && b.adapter !== values.adapter ? {} : b;
    merged[section] = { ...keep, ...values };
  }
  try {
    return parseBrokerConfig(merged);
  } catch (e) {
    if (e instanceof ConfigError && path !== undefined) {
      throw new ConfigError(`${path}: ${e.message}`, e.path, { cause: e });
    }
    throw e;
  }
}
