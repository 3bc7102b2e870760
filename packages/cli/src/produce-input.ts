import type { HeaderInput } from '@barge/client';
import { CliError } from './fail.js';
import { type InputMessage, JsonInputError, messageFromJson } from './message-json.js';
import { splitKey } from './message-text.js';

/** How `produce` turns input lines into messages, from its flags. */
export type InputFormat =
  | { readonly format: 'value'; readonly key: KeyFrom; readonly headers: readonly HeaderInput[] }
  | { readonly format: 'json'; readonly headers: readonly HeaderInput[] };

/** Where a `--format value` message's key comes from. */
export type KeyFrom =
  | { readonly kind: 'none' }
  | { readonly kind: 'fixed'; readonly key: Buffer }
  | { readonly kind: 'separator'; readonly separator: Buffer };

export const FORMATS = ['value', 'json'] as const;

export function inputFormat(flags: {
  format: string;
  key?: string;
  keySeparator?: string;
  header?: readonly string[];
}): InputFormat {
  const headers = (flags.header ?? []).map(parseHeaderFlag);
  if (flags.format === 'json') {
    if (flags.key !== undefined || flags.keySeparator !== undefined) {
      throw new CliError(
        '--key and --key-separator are for --format value; JSON lines carry their own "key"',
        2,
      );
    }
    return { format: 'json', headers };
  }
  if (flags.format !== 'value') {
    throw new CliError(`--format must be one of ${FORMATS.join(', ')} (got "${flags.format}")`, 2);
  }
  if (flags.key !== undefined && flags.keySeparator !== undefined) {
    throw new CliError('use either --key (one key for every message) or --key-separator, not both', 2);
  }
  if (flags.keySeparator === '') throw new CliError('--key-separator must not be empty', 2);
  const key: KeyFrom =
    flags.keySeparator !== undefined
      ? { kind: 'separator', separator: Buffer.from(flags.keySeparator) }
      : flags.key !== undefined
        ? { kind: 'fixed', key: Buffer.from(flags.key) }
        : { kind: 'none' };
  return { format: 'value', key, headers };
}

/** `--header NAME=VALUE`: split at the first `=`; the value may be empty, the name not. */
export function parseHeaderFlag(text: string): HeaderInput {
  const at = text.indexOf('=');
  if (at < 1) throw new CliError(`--header must be NAME=VALUE, e.g. --header source=web (got "${text}")`, 2);
  return { name: text.slice(0, at), value: Buffer.from(text.slice(at + 1)) };
}

/**
 * The message of one input line, or undefined for a line to skip (blank lines of JSON input).
 * `where` names the line in errors, e.g. `stdin line 3`.
 */
export function messageOf(line: Buffer, input: InputFormat, where: string): InputMessage | undefined {
  let message: InputMessage;
  if (input.format === 'json') {
    const text = line.toString('utf8');
    if (text.trim() === '') return undefined;
    try {
      message = messageFromJson(text);
    } catch (e) {
      if (e instanceof JsonInputError) throw new CliError(`${where}: ${e.message}`, 2);
      throw e;
    }
  } else if (input.key.kind === 'separator') {
    message = { ...splitKey(line, input.key.separator), headers: [] };
  } else {
    message = {
      key: input.key.kind === 'fixed' ? input.key.key : null,
      value: Buffer.from(line),
      headers: [],
    };
  }
  message.headers.push(...input.headers);
  return message;
}
