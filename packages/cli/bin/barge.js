#!/usr/bin/env node
// The `barge` command as npm links it. This file is committed (dist/ is built later), so npm
// links it right at `npm ci`. It checks the Node.js version before loading anything that an
// older Node could fail to parse, sets the V8 flag of `barge broker` (applyBrokerV8Flags), then
// runs the compiled CLI.
import { existsSync, readFileSync } from 'node:fs';
import v8 from 'node:v8';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const required = pkg.engines.node;
const oldest = lowestVersion(required);
if (compareVersions(parseVersion(process.version), oldest) < 0) {
  process.stderr.write(
    `barge: Node.js ${process.version} is too old; barge needs Node.js ${required} (supported LTS lines). Install a current LTS release and try again.\n`,
  );
  process.exit(1);
}

const cli = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    'barge: the CLI is not built yet (packages/cli/dist/bin.js is missing). Run `npm run build` at the repository root, then try again.\n',
  );
  process.exit(1);
}
if (process.argv[2] === 'broker') applyBrokerV8Flags();
await import(cli.href);

/**
 * `barge broker` marks the heap on the main thread only (`--no-concurrent-marking`): on a busy
 * machine the concurrent markers cost 5-15% more CPU per GB produced (docs/deploy.md). Set
 * here, before anything is loaded and so before any marking cycle has started; NODE_OPTIONS
 * cannot carry this flag. BARGE_CONCURRENT_MARKING=true, or a marking flag given to node itself
 * (which V8 then sets up for from the start), keeps V8's choice.
 */
function applyBrokerV8Flags() {
  if (process.env.BARGE_CONCURRENT_MARKING === 'true') return;
  if (process.execArgv.some((a) => /^--(no-)?(concurrent-marking|single-threaded(-gc)?)$/.test(a))) return;
  v8.setFlagsFromString('--no-concurrent-marking');
}

/** `v20.19.0` or `20.19.0` → [20, 19, 0]. */
function parseVersion(text) {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (!m) throw new Error(`barge: cannot read the version "${text}"`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function compareVersions(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** The lowest version an engines range like `^20.19.0 || ^22.0.0 || >=24.0.0` names. */
function lowestVersion(range) {
  const versions = [...range.matchAll(/\d+\.\d+\.\d+/g)].map((m) => parseVersion(m[0]));
  if (versions.length === 0) throw new Error(`barge: cannot read the engines range "${range}"`);
  return versions.reduce((low, v) => (compareVersions(v, low) < 0 ? v : low));
}
