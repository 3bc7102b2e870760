import {
  ANY_WRITE_PARTITION,
  ApiKey,
  CorruptDataError,
  checkChunkPartsContent,
  crc32Parts,
  ErrorCode,
  encodeErrorResponse,
  encodeResponse,
  errorCodeName,
  errorMessage,
  isCodecId,
  isCodecUnavailable,
  NO_OWNER,
  type ReceivedProduceRequest,
  type TopicConfig,
  validateChunkMeta,
} from '@barge/core';
import type { Backpressure } from '../backpressure.js';
import type { WriteOwnership } from '../cluster/write-ownership.js';
import type { BrokerMetrics } from '../metrics.js';
import type { Appended, DurableOutcome } from '../partition-writer.js';
import { principalName } from '../quotas/principal.js';
import type { QuotaManager } from '../quotas/quota-manager.js';
import type { Connection } from '../server/connection.js';
import { checkTopicName, type TopicRegistry } from '../topics.js';
import type { PartitionWriters } from '../writers.js';

export interface ProduceHandlerDeps {
  topics: TopicRegistry;
  writers: PartitionWriters;
  /** Which write partitions this broker may take produce requests for (all, unless clustered). */
  ownership: WriteOwnership;
  backpressure: Backpressure;
  metrics: BrokerMetrics;
  /** Produce byte-rate quotas: the throttle time goes into the response (v2) and pauses the connection. */
  quotas: QuotaManager;
  maxMessagesPerRequest: number;
  /** Check every chunk's records (`limits.validateChunks`) before taking the request in. */
  validateChunks: boolean;
  /** True once the broker is shutting down: produce requests are refused. */
  stopping(): boolean;
  countError(code: ErrorCode): void;
}

/** Why a request is refused. */
interface Problem {
  code: ErrorCode;
  message: string;
}

/** The content check of a request's chunks: done (a problem or none), or still running. */
type ContentCheck = Problem | undefined | Promise<Problem | undefined>;

/** One produce request as it arrived, and how to answer it. */
interface Intake {
  conn: Connection;
  correlationId: number;
  apiVersion: number;
  req: ReceivedProduceRequest;
  content: ContentCheck;
  /** Called once the request is answered (or, with acks=none, taken in or refused). */
  done: () => void;
}

/**
 * Produce intake: checks a request (topic, write partition, limits, codecs, chunk metadata,
 * CRC-32 and, with `validateChunks`, the records of every chunk), appends its chunks to the write
 * partition's open batch, and answers it at its ack level. The only part of the broker that
 * writes Produce responses. A request is taken in whole or refused whole: its response is one.
 *
 * The content check of compressed chunks runs on libuv's thread pool; it starts as the request
 * arrives, so pipelined requests are checked in parallel, and they are still appended in order.
 */
export class ProduceHandler {
  /** Per connection: a request waiting for topic metadata; later ones queue behind it (order). */
  readonly #waiting = new WeakMap<Connection, Promise<void>>();

  constructor(private readonly deps: ProduceHandlerDeps) {}

  handle(
    conn: Connection,
    correlationId: number,
    apiVersion: number,
    req: ReceivedProduceRequest,
    done: () => void = () => {},
  ): void {
    let content = this.deps.validateChunks ? startContentCheck(req) : undefined;
    if (content instanceof Promise) content = this.#holdWhileChecked(conn, req, content);
    const intake: Intake = { conn, correlationId, apiVersion, req, content, done };
    const earlier = this.#waiting.get(conn);
    const step = earlier ? earlier.then(() => this.#take(intake)) : this.#take(intake);
    if (!step) return;
    const chain: Promise<void> = step.finally(() => {
      if (this.#waiting.get(conn) === chain) this.#waiting.delete(conn);
    });
    this.#waiting.set(conn, chain);
  }

  /**
   * A request whose chunks are being checked counts against the in-flight budget meanwhile, so
   * a client that sends faster than its chunks can be checked is paused like any producer.
   */
  #holdWhileChecked(conn: Connection, req: ReceivedProduceRequest, check: Promise<Problem | undefined>) {
    let bytes = 0;
    for (const c of req.chunks) bytes += c.meta.length;
    const { budget } = this.deps.backpressure;
    budget.acquire(bytes);
    this.deps.backpressure.produced(conn);
    return check.finally(() => budget.release(bytes));
  }

  /** Takes the request in; returns a promise when it has to wait (topic metadata, content check). */
  #take(intake: Intake): Promise<void> | undefined {
    const { req } = intake;
    if (this.deps.stopping())
      return this.#fail(intake, ErrorCode.SHUTTING_DOWN, 'the broker is shutting down');
    const topic = this.deps.topics.get(req.topic);
    if (topic) return this.#append(intake, topic);
    try {
      checkTopicName(req.topic);
    } catch (e) {
      return this.#fail(intake, ErrorCode.INVALID_TOPIC, errorMessage(e));
    }
    return this.deps.topics.refresh(req.topic).then(
      (t) =>
        t
          ? this.#append(intake, t)
          : this.#fail(intake, ErrorCode.UNKNOWN_TOPIC, `topic ${JSON.stringify(req.topic)} does not exist`),
      (e: unknown) =>
        this.#fail(intake, ErrorCode.STORAGE_UNAVAILABLE, `cannot read topic metadata: ${errorMessage(e)}`),
    );
  }

  /** Appends the request once its content check is done (it waits for that: order is kept). */
  #append(intake: Intake, topic: TopicConfig): Promise<void> | undefined {
    const { content } = intake;
    if (!(content instanceof Promise)) return this.#appendChecked(intake, topic, content);
    return content.then((p) => {
      this.#appendChecked(intake, topic, p);
    });
  }

  /** `content`: what the content check found wrong with the chunks, if anything. */
  #appendChecked(intake: Intake, topic: TopicConfig, content: Problem | undefined): undefined {
    const { req, conn } = intake;
    if (this.deps.stopping())
      return this.#fail(intake, ErrorCode.SHUTTING_DOWN, 'the broker is shutting down');
    // The request's own checks first: a damaged CRC or bad metadata is reported as such.
    const problem = this.#check(req, topic) ?? content;
    if (problem) return this.#fail(intake, problem.code, problem.message);
    const wp = this.#writePartition(req, topic);
    if (typeof wp !== 'number') return this.#fail(intake, ErrorCode.NOT_OWNER, wp.message);
    let messages = 0;
    let bytes = 0;
    for (const c of req.chunks) {
      messages += c.meta.messageCount;
      bytes += c.meta.length;
      this.deps.metrics.chunkBytes.observe(c.meta.length);
    }
    this.deps.metrics.produceRequests.inc({ topic: topic.name });
    this.deps.metrics.produceBytes.inc({ topic: topic.name }, bytes);
    this.deps.metrics.produceMessages.inc({ topic: topic.name }, messages);
    const appended = this.deps.writers
      .get(topic.name, wp)
      .append(req.chunks, messages, bytes, req.acks === 'durable');
    const throttleTimeMs = this.deps.quotas.record(principalName(conn), 'produce', bytes);
    conn.throttle(throttleTimeMs);
    this.#answer(intake, wp, appended, Date.now() + throttleTimeMs);
    this.deps.backpressure.produced(conn);
    return undefined;
  }

  /** The write partition the request goes to, or why this broker does not take it (another one owns it). */
  #writePartition(req: ReceivedProduceRequest, topic: TopicConfig): number | { message: string } {
    const { ownership, writers } = this.deps;
    if (req.writePartition === ANY_WRITE_PARTITION) {
      const wp = writers.nextRoundRobin(topic, ownership.ownedOf(topic));
      return (
        wp ?? { message: `this broker owns no write partition of topic ${topic.name} now; refresh metadata` }
      );
    }
    const owner = ownership.check(topic.name, req.writePartition);
    if (owner.owned) return req.writePartition;
    const at =
      owner.ownerId === NO_OWNER ? 'no broker (the cluster is rebalancing)' : `broker ${owner.ownerId}`;
    return {
      message: `this broker does not take ${topic.name}/${req.writePartition}: ${owner.why}; it is owned by ${at}; refresh metadata and send it there`,
    };
  }

  /** The first thing wrong with the request, or undefined. */
  #check(req: ReceivedProduceRequest, topic: TopicConfig): Problem | undefined {
    if (req.chunks.length === 0) {
      return { code: ErrorCode.INVALID_REQUEST, message: 'a produce request needs at least one chunk' };
    }
    const wp = req.writePartition;
    if (wp !== ANY_WRITE_PARTITION && wp >= topic.writePartitions) {
      return {
        code: ErrorCode.INVALID_PARTITION,
        message: `topic ${topic.name} has ${topic.writePartitions} write partitions; there is no write partition ${wp}`,
      };
    }
    let messages = 0;
    for (const c of req.chunks) messages += c.meta.messageCount;
    const max = this.deps.maxMessagesPerRequest;
    if (messages > max) {
      return {
        code: ErrorCode.TOO_MANY_MESSAGES,
        message: `${messages} messages in one request; at most ${max} are allowed`,
      };
    }
    const refusal = this.deps.backpressure.refusal();
    if (refusal) return { code: ErrorCode.THROTTLED, message: refusal };
    for (let i = 0; i < req.chunks.length; i++) {
      const { parts, meta } = req.chunks[i]!;
      if (!isCodecId(meta.codec)) {
        return { code: ErrorCode.UNSUPPORTED_CODEC, message: `chunk ${i}: unknown codec id ${meta.codec}` };
      }
      try {
        validateChunkMeta(meta, `chunk ${i}`);
      } catch (e) {
        return { code: ErrorCode.INVALID_REQUEST, message: errorMessage(e) };
      }
      const actual = crc32Parts(parts);
      if (actual !== meta.crc32) {
        return {
          code: ErrorCode.CORRUPT_CHUNK,
          message: `chunk ${i}: CRC-32 of the bytes is ${hex8(actual)}, the request says ${hex8(meta.crc32)}`,
        };
      }
    }
    return undefined;
  }

  /**
   * Answers at the request's ack level: now (received), when the batch is published (durable), or
   * never (none). The response carries the part of the quota throttle time left (`throttledUntil`).
   */
  #answer(intake: Intake, writePartition: number, appended: Appended, throttledUntil: number): void {
    const { req } = intake;
    if (req.acks === 'none') {
      intake.done();
      return;
    }
    const success = (at: { sequence: number; readPartition: number; offset: number }) => {
      intake.conn.send(
        encodeResponse(ApiKey.Produce, intake.apiVersion, intake.correlationId, {
          writePartition,
          firstChunkIndex: appended.firstChunkIndex,
          firstMessageIndex: appended.firstMessageIndex,
          ...at,
          throttleTimeMs: Math.max(0, throttledUntil - Date.now()),
        }),
      );
      intake.done();
    };
    if (req.acks === 'received' || !appended.durable) {
      success({ sequence: -1, readPartition: -1, offset: -1 });
      return;
    }
    let answered = false;
    const timer =
      req.timeoutMs > 0
        ? setTimeout(() => {
            answered = true;
            this.#reply(
              intake,
              ErrorCode.REQUEST_TIMED_OUT,
              `not durable within ${req.timeoutMs} ms; the data may still be stored`,
            );
          }, req.timeoutMs).unref()
        : undefined;
    void appended.durable.then((outcome: DurableOutcome) => {
      clearTimeout(timer);
      if (answered) return;
      if (outcome.stored) success(outcome);
      else this.#reply(intake, outcome.code, outcome.message);
    });
  }

  #fail(intake: Intake, code: ErrorCode, message: string): undefined {
    if (intake.req.acks === 'none') {
      this.deps.countError(code);
      intake.conn.problem('produce request (acks=none) rejected', { error: errorCodeName(code), message });
      intake.done();
      return undefined;
    }
    this.#reply(intake, code, message);
    return undefined;
  }

  #reply(intake: Intake, code: ErrorCode, message: string): void {
    this.deps.countError(code);
    intake.conn.send(encodeErrorResponse(intake.correlationId, code, message));
    intake.done();
  }
}

/**
 * Starts checking the records of every chunk whose metadata is valid (the others are refused by
 * `#check` first, without looking at their bytes). `none` chunks are checked now; compressed ones
 * one after another on the thread pool, so a request holds one decompression piece at a time.
 */
function startContentCheck(req: ReceivedProduceRequest): ContentCheck {
  let pending: Promise<Problem | undefined> | undefined;
  for (let i = 0; i < req.chunks.length; i++) {
    const { parts, meta } = req.chunks[i]!;
    if (!isCodecId(meta.codec)) continue;
    try {
      validateChunkMeta(meta);
    } catch {
      continue;
    }
    const where = `chunk ${i}`;
    if (pending) {
      pending = pending.then((p) => p ?? contentProblem(() => checkChunkPartsContent(parts, meta, where)));
      continue;
    }
    const now = contentProblem(() => checkChunkPartsContent(parts, meta, where));
    if (now instanceof Promise) pending = now;
    else if (now) return now;
  }
  return pending;
}

/** Runs one chunk's check; a corrupt chunk becomes a CORRUPT_CHUNK problem (never a rejection). */
function contentProblem(check: () => Promise<void> | undefined): ContentCheck {
  const corrupt = (e: unknown): Problem => {
    if (e instanceof CorruptDataError) return { code: ErrorCode.CORRUPT_CHUNK, message: e.message };
    // zstd on a runtime without it: the chunk cannot be checked, so it is refused (docs/config.md).
    if (isCodecUnavailable(e)) {
      const message = `${e.message}; or set limits.validateChunks to false to store such chunks unchecked`;
      return { code: ErrorCode.UNSUPPORTED_CODEC, message };
    }
    return { code: ErrorCode.INVALID_REQUEST, message: errorMessage(e) };
  };
  try {
    const running = check();
    return running?.then(() => undefined, corrupt);
  } catch (e) {
    return corrupt(e);
  }
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}
