import { PartsReader } from './parts-reader.js';
import { FrameTooLargeError, ProtocolError } from './wire.js';

/**
 * Framing (`docs/protocol.md` §2). Every frame is a u32 big-endian length (bytes after the
 * length field) followed by that many bytes.
 *
 *   request  = u32 length | u16 apiKey | u16 apiVersion | u32 correlationId | body
 *   response = u32 length | u32 correlationId | u16 errorCode | body
 */
export const LENGTH_PREFIX_BYTES = 4;
/** apiKey + apiVersion + correlationId. */
export const REQUEST_HEADER_BYTES = 8;
/** correlationId + errorCode. */
export const RESPONSE_HEADER_BYTES = 6;
/** Default largest frame (length field value) a receiver accepts: 16 MiB, as `limits.maxFrameBytes`. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  /** Chosen by the client, echoed in the response; unique among the connection's outstanding requests. */
  correlationId: number;
}

export interface ResponseHeader {
  correlationId: number;
  errorCode: number;
}

/** Splits `frame` (the bytes after the length prefix) into the request header and a view of the body. */
export function decodeRequestFrame(frame: Buffer): { header: RequestHeader; body: Buffer } {
  if (frame.length < REQUEST_HEADER_BYTES) {
    throw new ProtocolError(
      `request frame of ${frame.length} bytes is shorter than the ${REQUEST_HEADER_BYTES}-byte header`,
    );
  }
  return {
    header: {
      apiKey: frame.readUInt16BE(0),
      apiVersion: frame.readUInt16BE(2),
      correlationId: frame.readUInt32BE(4),
    },
    body: frame.subarray(REQUEST_HEADER_BYTES),
  };
}

/**
 * `decodeRequestFrame` for a frame given as parts (`FrameDecoder.nextParts()`): the header, and
 * the body as views of the parts (no copy).
 */
export function decodeRequestFrameParts(frame: readonly Buffer[]): {
  header: RequestHeader;
  body: Buffer[];
} {
  const r = new PartsReader(frame);
  if (r.remaining < REQUEST_HEADER_BYTES) {
    throw new ProtocolError(
      `request frame of ${r.remaining} bytes is shorter than the ${REQUEST_HEADER_BYTES}-byte header`,
    );
  }
  const apiKey = r.u16('apiKey');
  const apiVersion = r.u16('apiVersion');
  const correlationId = r.u32('correlationId');
  return { header: { apiKey, apiVersion, correlationId }, body: r.rest() };
}

/** Splits `frame` (the bytes after the length prefix) into the response header and a view of the body. */
export function decodeResponseFrame(frame: Buffer): { header: ResponseHeader; body: Buffer } {
  if (frame.length < RESPONSE_HEADER_BYTES) {
    throw new ProtocolError(
      `response frame of ${frame.length} bytes is shorter than the ${RESPONSE_HEADER_BYTES}-byte header`,
    );
  }
  return {
    header: { correlationId: frame.readUInt32BE(0), errorCode: frame.readUInt16BE(4) },
    body: frame.subarray(RESPONSE_HEADER_BYTES),
  };
}

/** The correlation id of a request frame whose header bytes are known (e.g. from `FrameTooLargeError.header`). */
export function peekCorrelationId(header: Buffer): number | undefined {
  return header.length >= REQUEST_HEADER_BYTES ? header.readUInt32BE(4) : undefined;
}

export interface FrameDecoderOptions {
  /** Largest length field accepted; larger frames raise `FrameTooLargeError`. Default 16 MiB. */
  maxFrameBytes?: number;
}

/**
 * Streaming length-prefix decoder. `push` socket data, then call `next()` until it returns
 * `undefined`. A frame that lies inside one pushed buffer is returned as a view of it (no copy);
 * one spread over several buffers is joined once, so the cost is linear in the bytes received.
 * `next()` throws `FrameTooLargeError` when a length field is above `maxFrameBytes` (once the
 * 8 bytes after the prefix are buffered, so the receiver can still read a request's correlation
 * id); after that the stream is unusable and the connection should be closed.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  private chunks: Buffer[] = [];
  /** Read position within chunks[0]. */
  private head = 0;
  private buffered = 0;
  private failed = false;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * The length field of the frame being received, once its prefix is buffered (before its body
   * is): lets a receiver admit a large frame against a memory budget before reading the body.
   */
  get pendingFrameLength(): number | undefined {
    if (this.failed || this.buffered < LENGTH_PREFIX_BYTES) return undefined;
    return this.peekU32();
  }

  push(data: Buffer): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.buffered += data.length;
  }

  next(): Buffer | undefined {
    const length = this.completeFrameLength();
    if (length === undefined) return undefined;
    this.skip(LENGTH_PREFIX_BYTES);
    return this.take(length);
  }

  /**
   * Like `next()`, but the frame comes back as views of the pushed buffers, in order, never
   * joined (one view when it lies in one buffer; none for an empty frame). The views keep the
   * pushed buffers they point into alive.
   */
  nextParts(): Buffer[] | undefined {
    const length = this.completeFrameLength();
    if (length === undefined) return undefined;
    this.skip(LENGTH_PREFIX_BYTES);
    return this.takeParts(length);
  }

  /** The length of the next frame once all of it is buffered; throws as `next()` does. */
  private completeFrameLength(): number | undefined {
    if (this.failed) throw new ProtocolError('frame decoder already failed');
    if (this.buffered < LENGTH_PREFIX_BYTES) return undefined;
    const length = this.peekU32();
    if (length > this.maxFrameBytes) {
      if (this.buffered < LENGTH_PREFIX_BYTES + REQUEST_HEADER_BYTES) return undefined;
      this.failed = true;
      const prefix = this.copyOut(LENGTH_PREFIX_BYTES + REQUEST_HEADER_BYTES);
      throw new FrameTooLargeError(length, this.maxFrameBytes, prefix.subarray(LENGTH_PREFIX_BYTES));
    }
    if (this.buffered < LENGTH_PREFIX_BYTES + length) return undefined;
    return length;
  }

  private peekU32(): number {
    const first = this.chunks[0]!;
    if (first.length - this.head >= 4) return first.readUInt32BE(this.head);
    return this.copyOut(4).readUInt32BE(0);
  }

  /** Copies the first `n` buffered bytes without consuming them. */
  private copyOut(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let start = this.head;
    for (const c of this.chunks) {
      const k = Math.min(n - filled, c.length - start);
      c.copy(out, filled, start, start + k);
      filled += k;
      start = 0;
      if (filled === n) break;
    }
    return out;
  }

  private skip(n: number): void {
    this.buffered -= n;
    this.advance(n);
  }

  /** Consumes `n` buffered bytes. */
  private advance(n: number): void {
    let left = n;
    while (left > 0) {
      const c = this.chunks[0]!;
      const k = Math.min(left, c.length - this.head);
      left -= k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
  }

  private takeParts(n: number): Buffer[] {
    this.buffered -= n;
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const c = this.chunks[0]!;
      const k = Math.min(left, c.length - this.head);
      out.push(c.subarray(this.head, this.head + k));
      left -= k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    return out;
  }

  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first !== undefined && first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const k = Math.min(n - filled, c.length - this.head);
      c.copy(out, filled, this.head, this.head + k);
      filled += k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    return out;
  }
}
