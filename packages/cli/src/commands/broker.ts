import { startBrokerFromConfig } from '@barge/broker';
import type { Command } from 'commander';
import { pino } from 'pino';
import { parseHostPort } from '../fail.js';
import { exitAfter, firstShutdownSignal, ignoreBrokenPipes } from '../shutdown.js';
import { importer, loadCliConfig } from '../storage.js';

/** Beyond `broker.shutdownTimeoutMs`: the broker abandons what is left and closes its adapters. */
const SHUTDOWN_MARGIN_MS = 10_000;

interface BrokerFlags {
  config?: string;
  data?: string;
  listen?: string;
  admin?: string;
  logLevel?: string;
}

export function brokerCommand(program: Command): void {
  program
    .command('broker')
    .description('run a broker (no config: local storage and the embedded pointer queue under ./barge-data)')
    .option(
      '--config <file>',
      'YAML config file (see docs/config.md); BARGE_* environment variables override it',
    )
    .option(
      '--data <dir>',
      'data directory for local storage and the embedded pointer queue (default ./barge-data)',
    )
    .option(
      '--listen <host:port>',
      'address for producers and consumers (default 127.0.0.1:7070; port 0 picks a free port)',
    )
    .option('--admin <host:port>', 'address for /health and /metrics over HTTP (default: off)')
    .option(
      '--log-level <level>',
      'fatal, error, warn, info, debug or trace (default $BARGE_LOG_LEVEL or info)',
    )
    .action(async (flags: BrokerFlags) => {
      if (flags.listen !== undefined) parseHostPort(flags.listen, '--listen');
      if (flags.admin !== undefined) parseHostPort(flags.admin, '--admin');
      const config = await loadCliConfig(flags.config, flags.data);
      if (flags.listen !== undefined) config.broker.listen = flags.listen;
      if (flags.admin !== undefined) config.broker.admin = flags.admin;
      ignoreBrokenPipes();
      // Synchronous writes: no exit-time flush, which loops forever on EPIPE once a pipe's
      // reader is gone (sonic-boom's flushSync retries every error).
      const logger = pino(
        { level: flags.logLevel ?? process.env.BARGE_LOG_LEVEL ?? 'info' },
        pino.destination({ dest: 2, sync: true }),
      );
      const signal = firstShutdownSignal();
      // SIGHUP re-reads the TLS files (certificate rotation); by default it would end the process.
      let onHangup = () => logger.warn('SIGHUP while starting: ignored');
      process.on('SIGHUP', () => onHangup());
      // A signal during startup (e.g. while storage is still unreachable) ends the retries.
      const startup = new AbortController();
      void signal.then(() => startup.abort());
      const running = await startBrokerFromConfig(config, { importer, logger, signal: startup.signal }).catch(
        (e: unknown) => {
          if (!startup.signal.aborted) throw e;
          // Stopped as asked, before it served anything: a clean exit, as after a normal stop.
          process.stderr.write(`stopped while starting: ${(e as Error).message}\n`);
          process.exit(0);
        },
      );
      const { broker } = running;
      onHangup = () => {
        if (config.security.tls) broker.reloadTls();
        else logger.info('SIGHUP: TLS is off (no security.tls); nothing to reload');
      };
      const { host, port } = broker.address;
      process.stdout.write(
        `barge broker ${config.broker.id} listening on ${host}:${port}; ${running.describe()}\n`,
      );
      const received = await signal;
      const deadlineMs = config.broker.shutdownTimeoutMs + SHUTDOWN_MARGIN_MS;
      process.stderr.write(
        `${received}: flushing open batches and acks, then stopping (at most ${deadlineMs} ms; send it again to exit at once)\n`,
      );
      exitAfter(deadlineMs, 1, `barge broker did not stop within ${deadlineMs} ms; exiting\n`);
      const stopped = await broker.stop().then(
        () => true,
        (e: unknown) => {
          process.stderr.write(`stop failed: ${(e as Error).message}\n`);
          return false;
        },
      );
      process.stdout.write('barge broker stopped\n');
      // Whatever an adapter left behind (a timer, a socket) must not keep a stopped broker alive.
      process.exit(stopped ? 0 : 1);
    });
}
