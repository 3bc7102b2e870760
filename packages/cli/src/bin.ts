#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { aclsCommand } from './commands/acls.js';
import { auditCommand } from './commands/audit.js';
import { benchCommand } from './commands/bench.js';
import { brokerCommand } from './commands/broker.js';
import { clusterCommand } from './commands/cluster.js';
import { consumeCommand } from './commands/consume.js';
import { groupsCommand } from './commands/groups.js';
import { inspectCommand } from './commands/inspect.js';
import { produceCommand } from './commands/produce.js';
import { topicsCommand } from './commands/topics.js';
import { usersCommand } from './commands/users.js';
import { CliError, describeFailure, exitCodesHelp } from './fail.js';
import { useSaslFlags } from './sasl-flags.js';
import { useTlsFlags } from './tls-flags.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command()
  .name('barge')
  .description('Barge: a PubSub broker that ships message batches through object storage')
  .version(pkg.version)
  .showHelpAfterError('(run with --help for usage)')
  .addHelpText('after', exitCodesHelp())
  .exitOverride();
brokerCommand(program);
topicsCommand(program);
produceCommand(program);
consumeCommand(program);
groupsCommand(program);
inspectCommand(program);
aclsCommand(program);
usersCommand(program);
clusterCommand(program);
auditCommand(program);
benchCommand(program);
useTlsFlags(program);
useSaslFlags(program);
for (const c of program.commands) {
  c.exitOverride();
  for (const sub of c.commands) sub.exitOverride();
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // Commander already printed its one-line message (or help/version, which exit 0).
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else {
    process.stderr.write(`barge: ${describeFailure(e)}\n`);
    process.exitCode = e instanceof CliError ? e.exitCode : 1;
  }
}
