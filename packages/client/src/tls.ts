import * as net from 'node:net';
import * as tls from 'node:tls';
import { AuthError, ConfigError, tlsErrorReason } from '@barge/core';

type Pem = string | Buffer | readonly (string | Buffer)[];

/** The client's `tls` option: what `tls.connect` takes to reach a broker with `security.tls`. */
export interface ClientTlsOptions {
  /** CA certificates (PEM) the broker's certificate must chain to. Default: the system's CAs. */
  ca?: Pem;
  /** The client certificate (PEM), for a broker with `clientAuth: require` or `mtls` authentication. */
  cert?: Pem;
  /** The client certificate's private key (PEM). */
  key?: Pem;
  /** The name the broker's certificate must be for, when it is not the host of the broker address. */
  servername?: string;
  /** `false` accepts any broker certificate (tests only: anyone in the path can then read and change the traffic). Default true. */
  rejectUnauthorized?: boolean;
}

/** `true`: TLS trusting the system's CAs; an object: TLS with those settings; absent or `false`: no TLS. */
export type TlsOption = boolean | ClientTlsOptions;

const KEYS = new Set(['ca', 'cert', 'key', 'servername', 'rejectUnauthorized']);

/** Checks a `tls` option of a `who` (`producer`, …), throwing `ConfigError`; undefined: no TLS. */
export function resolveTlsOption(value: unknown, who: string): ClientTlsOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigError(
      `${who} tls must be true or an object { ca, cert, key, servername, rejectUnauthorized }`,
      'tls',
    );
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KEYS.has(k))
      throw new ConfigError(`${who} tls has an unknown option ${JSON.stringify(k)}`, `tls.${k}`);
  }
  for (const k of ['ca', 'cert', 'key'] as const) {
    if (o[k] !== undefined && !isPem(o[k]))
      throw new ConfigError(
        `${who} tls.${k} must be PEM text (a string or Buffer, or an array of them)`,
        `tls.${k}`,
      );
  }
  if ((o.cert === undefined) !== (o.key === undefined))
    throw new ConfigError(
      `${who} tls.cert and tls.key go together (the client certificate and its key)`,
      'tls.cert',
    );
  if (o.servername !== undefined && (typeof o.servername !== 'string' || o.servername === ''))
    throw new ConfigError(`${who} tls.servername must be a non-empty string`, 'tls.servername');
  if (o.rejectUnauthorized !== undefined && typeof o.rejectUnauthorized !== 'boolean')
    throw new ConfigError(`${who} tls.rejectUnauthorized must be a boolean`, 'tls.rejectUnauthorized');
  return { ...(o as ClientTlsOptions) };
}

function isPem(v: unknown): boolean {
  const one = (x: unknown) => typeof x === 'string' || Buffer.isBuffer(x);
  return one(v) || (Array.isArray(v) && v.length > 0 && v.every(one));
}

/**
 * The TLS handshake with a broker failed on a certificate: the broker's is not trusted or not
 * for its name, or the broker refused the client's (or wanted one). Not retryable: the
 * configuration has to change.
 */
export class TlsHandshakeError extends AuthError {
  constructor(
    readonly address: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Opens a socket to the broker: plain TCP, or TLS with `options`; `event` fires once it is ready
 * for requests. With `onread`, received bytes go to it instead of `data` events.
 */
export function openSocket(
  host: string,
  port: number,
  options: ClientTlsOptions | undefined,
  onread?: net.OnReadOpts,
): { socket: net.Socket; event: 'connect' | 'secureConnect' } {
  if (!options) return { socket: net.connect({ host, port, noDelay: true, onread }), event: 'connect' };
  const { ca, cert, key, ...rest } = options;
  // `tls.connect` takes `onread` as `net.connect` does (Node's documentation), but the type does not say so.
  const read: tls.ConnectionOptions = onread ? ({ onread } as tls.ConnectionOptions) : {};
  const socket = tls.connect({
    host,
    port,
    ...read,
    ...rest,
    ...(ca !== undefined && { ca: ca as tls.ConnectionOptions['ca'] }),
    ...(cert !== undefined && { cert: cert as tls.ConnectionOptions['cert'] }),
    ...(key !== undefined && { key: key as tls.ConnectionOptions['key'] }),
  });
  socket.setNoDelay(true);
  return { socket, event: 'secureConnect' };
}

/**
 * The error to report for `e`, a socket error while connecting to `address` over TLS: a
 * `TlsHandshakeError` for a certificate problem, undefined for other errors (network ones, which
 * the caller reports as unreachable and retries).
 */
export function tlsHandshakeFailure(address: string, e: unknown): TlsHandshakeError | undefined {
  const code = String((e as { code?: unknown } | null)?.code ?? '');
  if (!/CERT|UNABLE_TO_|SELF_SIGNED|ALTNAME|UNKNOWN_CA|HOSTNAME/.test(code)) return undefined;
  return new TlsHandshakeError(address, `TLS handshake with ${address} failed: ${describe(code, e)}`, {
    cause: e,
  });
}

/**
 * A socket error while connecting over TLS that is not about certificates: network errors as
 * they are; TLS ones without OpenSSL's prefix, with a hint when the broker does not speak TLS.
 */
export function tlsErrorText(e: unknown): string {
  const code = String((e as { code?: unknown } | null)?.code ?? '');
  if (!code.startsWith('ERR_SSL')) return tlsErrorReason(e);
  const plain = code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG';
  return `TLS handshake failed: ${tlsErrorReason(e)}${plain ? " (is TLS on at the broker's listener? Without security.tls, connect without the tls option)" : ''}`;
}

/**
 * Said of a TLS connection the broker closed before answering: with `clientAuth: require`, a
 * client certificate that does not chain to the broker's CA ends the connection without an alert.
 */
export function closedAfterTlsHint(options: ClientTlsOptions | undefined): string {
  return options?.cert === undefined
    ? ''
    : ' (after the TLS handshake: does the broker trust the client certificate?)';
}

function describe(code: string, e: unknown): string {
  const reason = tlsErrorReason(e);
  if (code.endsWith('ALERT_CERTIFICATE_REQUIRED'))
    return `${reason}: the broker requires a client certificate (tls.cert and tls.key)`;
  if (code.endsWith('ALERT_UNKNOWN_CA') || code.endsWith('ALERT_BAD_CERTIFICATE'))
    return `${reason}: the broker does not trust the client certificate`;
  return reason;
}
