import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import {
  ErrorCode,
  encodeErrorResponse,
  LENGTH_PREFIX_BYTES,
  peekCorrelationId,
  tlsErrorReason,
} from '@barge/core';
import type { Logger } from 'pino';
import type { TlsContext } from './tls-context.js';

/** Why the TLS listener turned a client away before it could send a request. */
export type TlsRefusal = 'tls_required' | 'tls_handshake' | 'client_certificate';

export interface TlsListenerHooks {
  log: Logger;
  /** A client completed the handshake (and the certificate it sent, if any, is trusted). */
  secure(socket: TLSSocket): void;
  refused(reason: TlsRefusal): void;
  /** How long a client has to start and complete the handshake. */
  handshakeTimeoutMs: number;
  /** Turns away a client that did not start a TLS handshake; default: a Barge INVALID_REQUEST answer. */
  plaintext?(socket: Socket, firstChunk: Buffer): void;
}

/** The first byte of a TLS handshake record. A Barge frame starts with its length's high byte: 0 below 16 MiB. */
const TLS_HANDSHAKE = 0x16;

/** What a client that speaks the Barge protocol without TLS is told (as an error response to its first request). */
export const TLS_REQUIRED_MESSAGE =
  "this broker's listener requires TLS: connect with TLS (client option tls; CLI --tls or --tls-ca <file>)";

/**
 * The client listener with TLS on. It looks at each connection's first byte: a TLS handshake goes
 * to a `tls.Server` (the certificate of `context`, swapped on reload); anything else is a client
 * without TLS, which gets an INVALID_REQUEST error response saying TLS is required, instead of a
 * connection closed without a word.
 */
export function createTlsListener(context: TlsContext, hooks: TlsListenerHooks): Server {
  const { log } = hooks;
  const tls = createTlsServer({ ...context.listenerOptions(), handshakeTimeout: hooks.handshakeTimeoutMs });
  context.serve(tls);
  tls.on('secureConnection', (socket: TLSSocket) => {
    const refusal = context.refusal(socket);
    if (refusal === undefined) {
      hooks.secure(socket);
      return;
    }
    hooks.refused('client_certificate');
    log.warn({ remote: remoteOf(socket) }, `connection refused: ${refusal}`);
    socket.destroy();
  });
  tls.on('tlsClientError', (e: Error, socket: TLSSocket) => {
    // With clientAuth require, node ends a handshake whose client certificate does not verify
    // without an alert ("socket hang up"); the reason is on the socket.
    const untrusted = socket.authorizationError;
    hooks.refused(untrusted ? 'client_certificate' : 'tls_handshake');
    const err = untrusted ? `client certificate not trusted: ${String(untrusted)}` : tlsErrorReason(e);
    log.warn({ remote: remoteOf(socket), err }, 'TLS handshake failed');
  });
  return createServer((socket) => {
    socket.on('error', () => {}); // the TLS socket or the refusal below owns the outcome
    socket.setTimeout(hooks.handshakeTimeoutMs, () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.setTimeout(0);
      if (chunk[0] === TLS_HANDSHAKE) {
        socket.unshift(chunk);
        tls.emit('connection', socket);
        return;
      }
      hooks.refused('tls_required');
      log.warn(
        { remote: remoteOf(socket) },
        'connection refused: the client did not start a TLS handshake (a client without TLS?)',
      );
      (hooks.plaintext ?? refusePlaintext)(socket, chunk);
    });
  });
}

function refusePlaintext(socket: Socket, firstChunk: Buffer): void {
  const correlationId = peekCorrelationId(firstChunk.subarray(LENGTH_PREFIX_BYTES));
  if (correlationId === undefined) socket.end();
  else socket.end(encodeErrorResponse(correlationId, ErrorCode.INVALID_REQUEST, TLS_REQUIRED_MESSAGE));
  setTimeout(() => socket.destroy(), 1000).unref();
}

function remoteOf(socket: Socket): string {
  // A TLS socket whose handshake failed is destroyed: its address is on the socket it wrapped.
  const s =
    socket.remoteAddress === undefined ? ((socket as { _parent?: Socket })._parent ?? socket) : socket;
  return `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`;
}
