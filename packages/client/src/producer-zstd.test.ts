import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, zstdAvailable } from '@barge/core';
import { Producer } from './producer.js';

describe('Producer compression zstd', () => {
  it('is refused at construction on a runtime without zstd, naming the codec and the Node.js needed', {
    skip: zstdAvailable() && `this Node.js ${process.version} has zstd`,
  }, () => {
    assert.throws(
      () => new Producer({ brokers: ['127.0.0.1:1'], compression: 'zstd' }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.equal(e.path, 'compression');
        assert.match(e.message, /compression 'zstd' needs Node\.js >= 22\.15/);
        assert.ok(e.message.includes(process.version), e.message);
        return true;
      },
    );
  });

  it('is accepted on a runtime with zstd', {
    skip: !zstdAvailable() && `this Node.js ${process.version} has no zstd in zlib`,
  }, async () => {
    const p = new Producer({ brokers: ['127.0.0.1:1'], compression: 'zstd' });
    await p.disconnect();
  });
});
