import type { OnReadOpts } from 'node:net';
import { LENGTH_PREFIX_BYTES, ProtocolError } from '@barge/core';

/** Size of the buffer socket reads land in between large frames (what Node reads into by default). */
export const READ_BUFFER_BYTES = 64 * 1024;

/**
 * Cuts a broker connection's bytes into response frames (u32 length prefix, `docs/protocol.md`
 * §2) by choosing where each socket read lands (the socket's `onread` option): frames no larger
 * than the read buffer are read into it and copied out whole; a frame larger than that gets a
 * buffer of its own as soon as its length prefix arrives, and the reads that follow fill it in
 * place. The data of a large response (a ReadObject's batch bytes) is thus never copied in
 * JavaScript, and a frame handed out pins only its own bytes, never a read buffer.
 */
export class ResponseFrames {
  readonly #maxFrameBytes: number;
  readonly #onFrame: (frame: Buffer) => void;
  readonly #scratch: Buffer;
  /** Bytes `[#start, #end)` of `#scratch` were read and not cut into frames yet. */
  #start = 0;
  #end = 0;
  /** The large frame being read into place, and how much of it has arrived. */
  #large: Buffer | undefined;
  #filled = 0;

  /** `onFrame` gets each frame (the bytes after the length prefix), in order. */
  constructor(maxFrameBytes: number, onFrame: (frame: Buffer) => void, readBufferBytes = READ_BUFFER_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
    this.#onFrame = onFrame;
    this.#scratch = Buffer.allocUnsafeSlow(Math.max(readBufferBytes, LENGTH_PREFIX_BYTES + 1));
  }

  /**
   * The socket option that makes reads land where this wants them. `onError` gets what a frame
   * or `onFrame` threw (the connection is then unusable).
   */
  onread(onError: (e: Error) => void): OnReadOpts {
    return {
      buffer: () => this.nextBuffer(),
      callback: (bytes) => {
        try {
          this.received(bytes);
        } catch (e) {
          onError(e instanceof Error ? e : new Error(String(e)));
          return false; // stop reading
        }
        return true;
      },
    };
  }

  /** Where the next read should land (never empty). */
  nextBuffer(): Buffer {
    if (this.#large) return this.#large.subarray(this.#filled);
    if (this.#start > 0) {
      this.#scratch.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    return this.#scratch.subarray(this.#end);
  }

  /** `bytes` were read into the buffer `nextBuffer()` returned last. */
  received(bytes: number): void {
    if (this.#large) {
      this.#filled += bytes;
      if (this.#filled < this.#large.length) return;
      const frame = this.#large;
      this.#large = undefined;
      this.#onFrame(frame);
      return;
    }
    this.#end += bytes;
    this.#cut();
  }

  /** Hands out the frames complete in the read buffer; starts a large frame's own buffer. */
  #cut(): void {
    const s = this.#scratch;
    while (this.#end - this.#start >= LENGTH_PREFIX_BYTES) {
      const length = s.readUInt32BE(this.#start);
      if (length > this.#maxFrameBytes) {
        throw new ProtocolError(
          `response frame of ${length} bytes exceeds the limit of ${this.#maxFrameBytes} bytes`,
        );
      }
      const body = this.#start + LENGTH_PREFIX_BYTES;
      if (LENGTH_PREFIX_BYTES + length > s.length) {
        this.#large = Buffer.allocUnsafeSlow(length);
        this.#filled = s.copy(this.#large, 0, body, this.#end);
        this.#start = this.#end = 0;
        return;
      }
      if (this.#end - body < length) break;
      const frame = Buffer.allocUnsafe(length);
      s.copy(frame, 0, body, body + length);
      this.#start = body + length;
      this.#onFrame(frame);
    }
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }
}
