import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseBrokerConfig } from '@barge/core';
import { checkExposure, isLoopbackHost } from './exposure.js';

describe('safe default: an exposed listener needs authentication', () => {
  it('knows loopback addresses from the others', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) {
      assert.equal(isLoopbackHost(h), true, h);
    }
    for (const h of [
      '0.0.0.0',
      '::',
      '10.0.0.5',
      '192.168.1.2',
      'broker-1.internal',
      '128.0.0.1',
      '::ffff:10.0.0.1',
    ]) {
      assert.equal(isLoopbackHost(h), false, h);
    }
  });

  it('refuses a non-loopback listener without authentication, naming the address and the way out', () => {
    const config = parseBrokerConfig({ broker: { listen: '0.0.0.0:7070' } });
    assert.throws(
      () => checkExposure(config),
      (e: unknown) =>
        e instanceof ConfigError &&
        /refusing to listen on 0\.0\.0\.0:7070 without authentication/.test(e.message) &&
        /security\.allowAnonymous: true/.test(e.message),
    );
  });

  it('allows loopback, authentication, or allowAnonymous said on purpose', () => {
    checkExposure(parseBrokerConfig({}));
    checkExposure(
      parseBrokerConfig({ broker: { listen: '0.0.0.0:7070' }, security: { allowAnonymous: true } }),
    );
    checkExposure(
      parseBrokerConfig({
        broker: { listen: '10.1.2.3:7070' },
        security: { authentication: ['SCRAM-SHA-512'] },
      }),
    );
  });
});
