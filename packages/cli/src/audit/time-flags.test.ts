import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliError } from '../fail.js';
import { durationMs, parseDuration, parseSince } from './time-flags.js';

describe('audit time flags', () => {
  it('reads durations', () => {
    assert.equal(durationMs('500ms'), 500);
    assert.equal(durationMs('30s'), 30_000);
    assert.equal(durationMs('5m'), 300_000);
    assert.equal(durationMs('2h'), 7_200_000);
    assert.equal(durationMs('1d'), 86_400_000);
    assert.equal(durationMs('0s'), 0);
    assert.equal(durationMs('5'), undefined);
    assert.equal(durationMs('1w'), undefined);
  });

  it('--since is a duration back from now or an ISO time; anything else is a usage error', () => {
    assert.equal(parseSince('1h', 10_000_000), 10_000_000 - 3_600_000);
    assert.equal(parseSince('2026-12-03T07:00:00Z', 0), Date.parse('2026-12-03T07:00:00Z'));
    for (const bad of ['yesterday', '12', '']) {
      assert.throws(
        () => parseSince(bad, 0),
        (e: unknown) => e instanceof CliError && e.exitCode === 2 && /--since must be/.test(e.message),
      );
    }
    assert.throws(() => parseDuration('soon', '--settle'), /--settle must be a duration/);
  });
});
