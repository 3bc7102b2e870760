import { ApiKey } from '@barge/core';
import type { Command } from 'commander';
import { clusterText, clusterView } from '../cluster-view.js';
import { brokerAddress, withConnection } from '../connect.js';

export function clusterCommand(program: Command): void {
  const cluster = program.command('cluster').description('the brokers of a cluster and who owns what');

  cluster
    .command('describe')
    .description(
      'show the cluster id, its brokers (address, write partitions owned) and the owner of every write partition',
    )
    .option('--topic <name>', 'only this topic')
    .option('--broker <host:port>', 'any broker of the cluster (default $BARGE_BROKER or 127.0.0.1:7070)')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nOwners are broker ids; "-" marks a write partition without an owner while the cluster rebalances.',
    )
    .action(async (flags: { topic?: string; broker?: string; json?: boolean }) => {
      const address = brokerAddress(flags.broker);
      const topics = flags.topic === undefined ? [] : [flags.topic];
      const r = await withConnection(address, (c) => c.request(ApiKey.Metadata, { topics }));
      const view = clusterView(r, address);
      process.stdout.write(flags.json ? `${JSON.stringify(view, null, 2)}\n` : clusterText(view));
    });
}
