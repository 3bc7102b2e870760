import * as kp from '../index.js';
import type { KafkaReader } from '../wire/reader.js';
import type { KafkaWriter } from '../wire/writer.js';
import type { MessageSpec } from './schema-model.js';

export type Decode = (r: KafkaReader, version: number) => unknown;
export type Encode = (w: KafkaWriter, version: number, m: unknown) => void;

/** The generated decode/encode pair of a message (in `module`, default this package), by the naming convention. */
export function codecsOf(msg: MessageSpec, module: object = kp): { decode: Decode; encode: Encode } {
  const name = msg.type === 'header' ? `${msg.name}Data` : msg.name;
  const exports = module as Record<string, unknown>;
  const decode = exports[`decode${name}`];
  const encode = exports[`encode${name}`];
  if (typeof decode !== 'function' || typeof encode !== 'function') {
    throw new Error(`no generated codecs exported for ${msg.name}`);
  }
  return { decode: decode as Decode, encode: encode as Encode };
}
