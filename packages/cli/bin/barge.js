#!/usr/bin/env node
// The `barge` command as npm links it. This file is committed (dist/ is built later), so npm
// links it right at `npm ci`. It checks the Node.js version before loading anything that an
// older Node could fail to parse, then runs the compiled CLI.
import { existsSync, readFileSync } from 'node:fs';

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
await import(cli.href);

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
