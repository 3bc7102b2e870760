import { isIP } from 'node:net';
import { type BrokerConfig, ConfigError } from '@barge/core';
import { parseHostPort } from './server/listen.js';

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * The safe default (docs/security.md): a broker whose client listener is reachable from other
 * machines must authenticate its clients, unless the config says on purpose that it serves
 * anonymous ones. Throws a `ConfigError` saying why and what to change.
 */
export function checkExposure(config: BrokerConfig): void {
  const { listen } = config.broker;
  const { security } = config;
  if (security.authentication.length > 0 || security.allowAnonymous) return;
  const { host } = parseHostPort(listen);
  if (isLoopbackHost(host)) return;
  throw new ConfigError(
    `refusing to listen on ${listen} without authentication: anyone who reaches that address could create ` +
      'topics, produce to and read every topic, and join or commit any group. Set security.authentication ' +
      '(docs/security.md), listen on a loopback address, or set security.allowAnonymous: true to serve ' +
      'unauthenticated clients on purpose',
    'security.allowAnonymous',
  );
}
