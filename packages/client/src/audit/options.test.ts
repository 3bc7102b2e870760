import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '@barge/core';
import { Consumer } from '../consumer.js';
import { Producer } from '../producer.js';
import type { PointerSource } from '../types.js';
import { resolveAuditOptions } from './emitter.js';

describe('audit options', () => {
  it('defaults, and off when absent', () => {
    assert.equal(resolveAuditOptions(undefined, 'producer'), undefined);
    assert.deepEqual(resolveAuditOptions({}, 'producer'), {
      topic: '__barge_audit',
      flushIntervalMs: 1000,
      maxPendingRecords: 10_000,
    });
  });

  it('bad values fail when the client is created, naming the option', () => {
    assert.throws(
      () => new Producer({ brokers: ['127.0.0.1:1'], audit: { flushIntervalMs: 0 } }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /producer audit\.flushIntervalMs must be an integer >= 1, got 0/.test(e.message),
    );
    assert.throws(
      () => new Producer({ brokers: ['127.0.0.1:1'], audit: { topic: 'no spaces' } }),
      /topic name/,
    );
    const direct = { pointers: {} as PointerSource, storage: {} as never };
    assert.throws(
      () => new Consumer({ groupId: 'g', ...direct, audit: {} }),
      /consumer audit needs brokers: audit records are sent to a topic/,
    );
  });
});
