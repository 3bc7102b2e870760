import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_POSITION_METADATA_BYTES } from '@barge/core';
import { commitMetadata, encodeCommitMetadata, parseCommitMetadata } from './commit-metadata.js';

/** Kafka's default `offset.metadata.max.bytes`. */
const KAFKA_METADATA_LIMIT = 4096;

describe('commit metadata', () => {
  it('parses what earlier versions wrote', () => {
    assert.deepEqual(parseCommitMetadata('{"owner":"m-1","messageIndex":4,"released":true}'), {
      owner: 'm-1',
      messageIndex: 4,
      released: true,
    });
    assert.deepEqual(parseCommitMetadata('{"messageIndex":7}'), { messageIndex: 7 });
    for (const other of [null, undefined, '', 'checkpoint-42', '[]', '{"clientMetadata":3}']) {
      assert.deepEqual(parseCommitMetadata(other), {}, String(other));
    }
  });

  it('keeps the client string apart from null and the empty string, alongside the message index', () => {
    for (const clientMetadata of ['', 'offset=17;epoch=3', 'ünï {"x":"y"}\n']) {
      const encoded = encodeCommitMetadata({ messageIndex: 9, clientMetadata });
      assert.deepEqual(parseCommitMetadata(encoded), { messageIndex: 9, clientMetadata }, encoded);
    }
    assert.deepEqual(parseCommitMetadata(encodeCommitMetadata({ clientMetadata: null })), {});
    assert.equal(encodeCommitMetadata({ clientMetadata: 'plain' }), '{"clientMetadata":"plain"}');
  });

  it('fits Kafka’s default limit for any client string up to MAX_POSITION_METADATA_BYTES, owner included', () => {
    const owner = `barge-broker-${'x'.repeat(100)}-1f0e9c1a-5d41-4c5e-9b7a-3c2d1e0f9a8b`;
    const worst = [
      '\u0001'.repeat(MAX_POSITION_METADATA_BYTES),
      '"'.repeat(MAX_POSITION_METADATA_BYTES),
      'é'.repeat(MAX_POSITION_METADATA_BYTES / 2),
      'a'.repeat(MAX_POSITION_METADATA_BYTES),
    ];
    for (const client of worst) {
      const encoded = commitMetadata(Number.MAX_SAFE_INTEGER, owner, true, client);
      assert.ok(Buffer.byteLength(encoded) <= KAFKA_METADATA_LIMIT, `${Buffer.byteLength(encoded)} bytes`);
      assert.equal(parseCommitMetadata(encoded).clientMetadata, client);
    }
  });
});
