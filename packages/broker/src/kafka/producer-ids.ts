import { CorruptDataError, errorMessage, type ObjectStorage } from '@barge/core';
import { updateStoredDocument } from '../stored-document.js';

/** Where the producer id lease lives in storage. */
export const PRODUCER_IDS_KEY = '_meta/kafka/producer-ids.json';

/**
 * Kafka producer ids for InitProducerId, unique across brokers sharing the storage and across
 * restarts: leased in blocks through `_meta/kafka/producer-ids.json` (`{"next": N}`, written
 * before the block is used, compare-and-swap where the storage has it), so a restart skips the
 * rest of its block and never hands an id out twice.
 */
export class ProducerIds {
  #next = 0;
  #end = 0;
  #leasing: Promise<void> | undefined;

  constructor(
    private readonly storage: ObjectStorage,
    readonly blockSize = 100,
  ) {}

  async next(): Promise<bigint> {
    while (this.#next >= this.#end) {
      this.#leasing ??= this.#lease().finally(() => {
        this.#leasing = undefined;
      });
      await this.#leasing;
    }
    return BigInt(this.#next++);
  }

  async #lease(): Promise<void> {
    const block = await updateStoredDocument(
      this.storage,
      PRODUCER_IDS_KEY,
      'Kafka producer id lease',
      (stored) => {
        const next = stored === undefined ? 0 : parseNext(stored);
        const end = next + this.blockSize;
        return { write: Buffer.from(JSON.stringify({ next: end })), result: { next, end } };
      },
      { contentType: 'application/json' },
    );
    this.#next = block.next;
    this.#end = block.end;
  }
}

function parseNext(bytes: Buffer): number {
  let next: unknown;
  try {
    next = (JSON.parse(bytes.toString('utf8')) as { next?: unknown }).next;
  } catch (e) {
    throw new CorruptDataError(`${PRODUCER_IDS_KEY} is unreadable: ${errorMessage(e)}`, { cause: e });
  }
  if (typeof next !== 'number' || !Number.isSafeInteger(next) || next < 0) {
    throw new CorruptDataError(`${PRODUCER_IDS_KEY} is unreadable: "next" is ${JSON.stringify(next)}`);
  }
  return next;
}
