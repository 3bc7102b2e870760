import { startBrokerFromConfig } from '@barge/broker';
import type { Command } from 'commander';
import { pino } from 'pino';
import { parseHostPort } from '../fail.js';
import { importer, loadCliConfig } from '../storage.js';

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
      const logger = pino(
        { level: flags.logLevel ?? process.env.BARGE_LOG_LEVEL ?? 'info' },
        pino.destination(2),
      );
      const running = await startBrokerFromConfig(config, { importer, logger });
      const { broker } = running;
      const { host, port } = broker.address;
      process.stdout.write(
        `barge broker ${config.broker.id} listening on ${host}:${port}; ${running.describe()}\n`,
      );
      await new Promise<void>((done) => {
        let stopping = false;
        const stop = (signal: NodeJS.Signals) => {
          if (stopping) {
            process.stderr.write(`${signal} again: exiting without waiting\n`);
            process.exit(1);
          }
          stopping = true;
          process.stderr.write(`${signal}: flushing open batches and acks, then stopping\n`);
          broker.stop().then(done, (e: unknown) => {
            process.stderr.write(`stop failed: ${(e as Error).message}\n`);
            process.exitCode = 1;
            done();
          });
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
      process.stdout.write('barge broker stopped\n');
    });
}
