import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Admin } from './admin.js';
import { BrokerUnreachableError } from './connection.js';
import { Consumer } from './consumer.js';
import { Producer } from './producer.js';
import { CuttableProxy, freePort, silentServer, startBroker, type TestBroker } from './test/broker.js';
import { randomName } from './test/helpers.js';

/** `connect()` of every client is bounded by `connectionTimeout`, retries meanwhile, and names the addresses. */
describe('connectionTimeout', () => {
  let tb: TestBroker;
  before(async () => {
    tb = await startBroker();
  });
  after(async () => {
    await tb.close();
  });

  const clients = {
    producer: (brokers: string[], extra = {}) => new Producer({ brokers, ...extra }),
    consumer: (brokers: string[], extra = {}) =>
      new Consumer({ brokers, groupId: randomName('g'), ...extra }),
    admin: (brokers: string[], extra = {}) => new Admin({ brokers, ...extra }),
  };

  /** Runs `connect()` and returns how long it took to fail, and the error. */
  async function failedConnect(c: { connect(): Promise<void> }): Promise<{ ms: number; error: unknown }> {
    const t0 = Date.now();
    try {
      await c.connect();
    } catch (error) {
      return { ms: Date.now() - t0, error };
    }
    assert.fail('connect() succeeded');
  }

  it('with the defaults, the producer gives up on a refused address after about 5 s, naming it', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const p = new Producer({ brokers: [address] });
    const { ms, error } = await failedConnect(p);
    await p.disconnect();
    assert.ok(error instanceof BrokerUnreachableError);
    assert.match(error.message, new RegExp(`cannot connect to broker ${address}: connect ECONNREFUSED`));
    assert.match(error.message, /connectionTimeout 5000 ms/);
    assert.ok(ms >= 4_000 && ms < 6_500, `gave up after ${ms} ms`);
  });

  for (const [name, make] of Object.entries(clients)) {
    it(`${name}: refused addresses are retried until connectionTimeout, then the error names them all`, async () => {
      const a = `127.0.0.1:${await freePort()}`;
      const b = `127.0.0.1:${await freePort()}`;
      const c = make([a, b], { connectionTimeout: 1_200 });
      const { ms, error } = await failedConnect(c);
      await c.disconnect();
      assert.ok(error instanceof BrokerUnreachableError, String(error));
      assert.match(error.message, /cannot connect to any broker/);
      assert.ok(error.message.includes(a) && error.message.includes(b), error.message);
      const attempts = Number(/\((\d+) attempts/.exec(error.message)?.[1]);
      assert.ok(attempts >= 3, `retried: ${error.message}`);
      assert.ok(ms >= 900 && ms < 2_500, `gave up after ${ms} ms`);
    });

    it(`${name}: a broker that accepts connections and never answers fails connect() at connectionTimeout`, async () => {
      const hung = await silentServer();
      try {
        const c = make([hung.address], { connectionTimeout: 800 });
        const { ms, error } = await failedConnect(c);
        await c.disconnect();
        assert.ok(error instanceof BrokerUnreachableError, String(error));
        assert.match(
          error.message,
          new RegExp(`cannot connect to broker ${hung.address}: ApiVersions request`),
        );
        assert.ok(ms >= 700 && ms < 2_000, `gave up after ${ms} ms`);
      } finally {
        await hung.close();
      }
    });

    it(`${name}: connect() waits for a broker that comes up within connectionTimeout`, async () => {
      const port = await freePort();
      const late = new CuttableProxy(tb.address);
      const c = make([`127.0.0.1:${port}`], { connectionTimeout: 5_000 });
      const up = new Promise((r) => setTimeout(r, 600)).then(() => late.start(port));
      try {
        const t0 = Date.now();
        await c.connect();
        assert.ok(Date.now() - t0 >= 500, 'connected once the broker was up');
      } finally {
        await up;
        await c.disconnect();
        await late.close();
      }
    });
  }

  it('retry.retries bounds the attempts too: retries 0 fails at the first refusal', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const c = new Consumer({ brokers: [address], groupId: 'g', retry: { retries: 0 } });
    const { ms, error } = await failedConnect(c);
    await c.disconnect();
    assert.ok(error instanceof BrokerUnreachableError);
    assert.match(error.message, /\(1 attempt in/);
    assert.ok(ms < 500, `gave up after ${ms} ms`);
  });
});
