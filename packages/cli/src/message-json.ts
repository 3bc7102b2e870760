import { isUtf8 } from 'node:buffer';
import type { ConsumedMessage, HeaderInput } from '@barge/client';

/**
 * The JSON-lines form of a message, one object per line, shared by `consume --format json`
 * (output) and `produce --format json` (input), so one command's output is the other's input:
 *
 *   {"key":"k","value":"v","headers":[{"name":"h","value":"x"}]}
 *
 * Bytes are UTF-8 text, unless the object says `"encoding":"base64"`: then its key, value and
 * header values are base64. Consume picks base64 for a message whose bytes are not all valid
 * UTF-8, so every message survives the round trip exactly.
 */
export type JsonEncoding = 'utf8' | 'base64';

/** Where a consumed message was read, as `consume --format json` prints it (produce ignores these). */
const METADATA_FIELDS = ['topic', 'partition', 'offset', 'messageIndex', 'writePartition'] as const;
const INPUT_FIELDS = ['key', 'value', 'headers', 'encoding', 'timestamp'] as const;

/** One line of `consume --format json`, without the newline. */
export function messageToJson(m: ConsumedMessage): string {
  const text = [m.key, m.value, ...m.headers.map((h) => h.value)].every((b) => b === null || isUtf8(b));
  const encoding: JsonEncoding = text ? 'utf8' : 'base64';
  const str = (b: Buffer) => b.toString(encoding);
  return JSON.stringify({
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    messageIndex: m.messageIndex,
    writePartition: m.writePartition,
    timestamp: m.timestamp,
    key: m.key === null ? null : str(m.key),
    headers: m.headers.map((h) => ({ name: h.name, value: str(h.value) })),
    value: str(m.value),
    ...(text ? {} : { encoding }),
  });
}

/** A message as produce reads it from a line, before the flags' headers and partition apply. */
export interface InputMessage {
  key: Buffer | null;
  value: Buffer;
  headers: HeaderInput[];
  timestamp?: number;
}

/** A line of JSON input that does not describe a message. */
export class JsonInputError extends Error {}

/**
 * The message one line of `produce --format json` describes. `key` (string or null) and
 * `headers` (an object of name → value or values, or a list of `{name, value}`) are optional,
 * `value` is required, `timestamp` (ms since the epoch) optional; the fields `consume` adds
 * (`topic`, `partition`, `offset`, `messageIndex`, `writePartition`) are ignored.
 */
export function messageFromJson(line: string): InputMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (e) {
    throw new JsonInputError(`not valid JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new JsonInputError('expected a JSON object such as {"key":"k","value":"v"}');
  }
  const o = parsed as Record<string, unknown>;
  for (const field of Object.keys(o)) {
    if (
      !(INPUT_FIELDS as readonly string[]).includes(field) &&
      !(METADATA_FIELDS as readonly string[]).includes(field)
    ) {
      throw new JsonInputError(`unknown field "${field}" (expected ${INPUT_FIELDS.join(', ')})`);
    }
  }
  const encoding = o.encoding ?? 'utf8';
  if (encoding !== 'utf8' && encoding !== 'base64') {
    throw new JsonInputError(`"encoding" must be "utf8" or "base64" (got ${JSON.stringify(encoding)})`);
  }
  const bytes = (v: unknown, what: string): Buffer => {
    if (typeof v !== 'string') throw new JsonInputError(`${what} must be a string (got ${describe(v)})`);
    if (encoding === 'base64' && !BASE64.test(v)) throw new JsonInputError(`${what} is not valid base64`);
    return Buffer.from(v, encoding);
  };
  if (!('value' in o)) throw new JsonInputError('missing "value"');
  const message: InputMessage = {
    key: o.key === undefined || o.key === null ? null : bytes(o.key, '"key"'),
    value: bytes(o.value, '"value"'),
    headers: headersOf(o.headers, bytes),
  };
  if (o.timestamp !== undefined) {
    if (typeof o.timestamp !== 'number' || !Number.isSafeInteger(o.timestamp) || o.timestamp < 0) {
      throw new JsonInputError(`"timestamp" must be ms since the epoch (got ${describe(o.timestamp)})`);
    }
    message.timestamp = o.timestamp;
  }
  return message;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function headersOf(v: unknown, bytes: (v: unknown, what: string) => Buffer): HeaderInput[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) {
    return v.map((h: unknown, i) => {
      const entry = h as { name?: unknown; value?: unknown } | null;
      if (typeof entry !== 'object' || entry === null || typeof entry.name !== 'string') {
        throw new JsonInputError(`"headers"[${i}] must be {"name": string, "value": string}`);
      }
      return { name: entry.name, value: bytes(entry.value, `header "${entry.name}"`) };
    });
  }
  if (typeof v !== 'object') {
    throw new JsonInputError(`"headers" must be an object or a list of {name, value} (got ${describe(v)})`);
  }
  const out: HeaderInput[] = [];
  for (const [name, values] of Object.entries(v)) {
    for (const value of Array.isArray(values) ? values : [values]) {
      out.push({ name, value: bytes(value, `header "${name}"`) });
    }
  }
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}
