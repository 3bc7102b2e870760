/**
 * The READMEs' code, run as written against a real broker process, through the packages'
 * public names (`@barge/client`, not a path into src/ or dist/). Every ```js/```ts block that
 * imports `@barge/*` is listed below: as an example to run (with the few substitutions it
 * needs, each of which must still match the README's text) or as a fragment, whose imports must
 * still be exported. A new block that is neither fails the first test.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { access, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ts from 'typescript';
import { type BrokerProcess, repoRoot, runCli, startBroker, tempDir, waitFor } from '../harness.js';
import { type CodeBlock, codeBlocks, namedImports } from './readme-blocks.js';

/** A block is named by its file and a line of its code that no other block of the file has. */
interface BlockRef {
  file: string;
  marker: string;
}

/** Blocks that need what a test cannot give them (cloud credentials, a pointer, a test runner). */
const FRAGMENTS: BlockRef[] = [
  { file: 'packages/client/README.md', marker: "import { S3Storage } from '@barge/storage-s3';" },
  {
    file: 'packages/pointers-embedded/README.md',
    marker: "import { EmbeddedPointerQueue } from '@barge/pointers-embedded';",
  },
  {
    file: 'packages/pointers-kafka/README.md',
    marker: "import { KafkaPointerQueue } from '@barge/pointers-kafka';",
  },
  {
    file: 'packages/storage-azure/README.md',
    marker: "import { createAzureStorage } from '@barge/storage-azure';",
  },
  {
    file: 'packages/storage-gcs/README.md',
    marker: "import { createGcsStorage } from '@barge/storage-gcs';",
  },
  { file: 'packages/storage-s3/README.md', marker: "import { createS3Storage } from '@barge/storage-s3';" },
  // Decodes a request frame a Kafka client sent: the broker's Kafka listener runs it against real clients.
  { file: 'packages/kafka-protocol/README.md', marker: "} from '@barge/kafka-protocol';" },
  {
    file: 'packages/client/README.md',
    marker: "import { Producer } from '@barge/client'; // events are on every client",
  },
  { file: 'packages/client/README.md', marker: "import { logLevel, Producer } from '@barge/client';" },
  { file: 'packages/testkit/README.md', marker: "import { describeObjectStorage } from '@barge/testkit';" },
  {
    file: 'packages/testkit/README.md',
    marker: "import { serviceEnv, startFaultProxy } from '@barge/testkit';",
  },
];

/** The examples run below, in the order they run. */
const EXAMPLES = {
  clientAdmin: { file: 'packages/client/README.md', marker: "import { Admin } from '@barge/client';" },
  clientProduce: { file: 'packages/client/README.md', marker: "import { Producer } from '@barge/client';" },
  clientConsume: { file: 'packages/client/README.md', marker: "import { Consumer } from '@barge/client';" },
  rootReadme: { file: 'README.md', marker: "import { Producer, Consumer } from '@barge/client';" },
  brokerFromConfig: {
    file: 'packages/broker/README.md',
    marker: "import { loadConfigFile, startBrokerFromConfig } from '@barge/broker';",
  },
  brokerFromParts: { file: 'packages/broker/README.md', marker: "import { Broker } from '@barge/broker';" },
  storageLocal: {
    file: 'packages/storage-local/README.md',
    marker: "import { createLocalStorage } from '@barge/storage-local';",
  },
} satisfies Record<string, BlockRef>;

const importsBarge = (b: CodeBlock) => ['js', 'ts'].includes(b.lang) && /from '@barge\//.test(b.code);

/** README.md and every package's README. */
async function readmes(): Promise<string[]> {
  const packages = await readdir(join(repoRoot, 'packages'));
  const files = ['README.md', ...packages.sort().map((p) => `packages/${p}/README.md`)];
  const exists = await Promise.all(
    files.map((f) =>
      access(join(repoRoot, f)).then(
        () => true,
        () => false,
      ),
    ),
  );
  return files.filter((_, i) => exists[i]);
}

async function allBargeBlocks(): Promise<CodeBlock[]> {
  return (await Promise.all((await readmes()).map(codeBlocks))).flat().filter(importsBarge);
}

function find(blocks: CodeBlock[], ref: BlockRef): CodeBlock {
  const found = blocks.filter((b) => b.file === ref.file && b.code.split('\n').includes(ref.marker));
  assert.equal(found.length, 1, `${ref.file}: expected one block with the line ${ref.marker}`);
  return found[0] as CodeBlock;
}

/** `code` with each `[from, to]` replaced; `from` must occur, so a changed README is noticed. */
function substitute(block: CodeBlock, substitutions: [string, string][]): string {
  let code = block.code;
  for (const [from, to] of substitutions) {
    assert.ok(code.includes(from), `${block.file}:${block.line}: the example no longer contains ${from}`);
    code = code.replaceAll(from, to);
  }
  return code;
}

interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

describe('README examples through the public package names', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let broker: BrokerProcess;
  let blocks: CodeBlock[];
  let examples = 0;

  before(async () => {
    dir = await tempDir('barge-readme-');
    // The examples' project: its node_modules is the repository's, where npm links @barge/*.
    await symlink(join(repoRoot, 'node_modules'), join(dir.path, 'node_modules'), 'dir');
    broker = await startBroker(['--data', join(dir.path, 'broker-data')]);
    blocks = await allBargeBlocks();
  });
  after(async () => {
    await broker?.stop();
    await dir?.remove();
  });

  /** Writes the (TypeScript-stripped) example into the project and starts it with `node`. */
  async function start(code: string, args: string[] = []): Promise<Running> {
    const js = ts.transpileModule(code, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const file = join(dir.path, `example-${examples++}.mjs`);
    await writeFile(file, js);
    const child = spawn(process.execPath, [file, ...args], {
      cwd: dir.path,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.on('exit', (code, signal) => r({ code, signal })),
    );
    return { child, stdout: () => out, stderr: () => err, exited };
  }

  /** Runs an example to its end; it must exit 0 within `timeoutMs`. */
  async function runToEnd(code: string, args: string[] = [], timeoutMs = 30_000): Promise<string> {
    const run = await start(code, args);
    const timer = setTimeout(() => run.child.kill('SIGKILL'), timeoutMs);
    const exit = await run.exited;
    clearTimeout(timer);
    assert.deepEqual(exit, { code: 0, signal: null }, `stdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`);
    return run.stdout();
  }

  const toBroker = (): [string, string] => ["'127.0.0.1:7070'", `'${broker.address}'`];

  it('every block that imports @barge/* is run below or listed as a fragment, and each fragment imports only exported names', async () => {
    const classified = [...Object.values(EXAMPLES), ...FRAGMENTS].map((ref) => find(blocks, ref));
    for (const b of blocks) {
      assert.ok(
        classified.includes(b),
        `${b.file}:${b.line}: a new example; run it here or list it as a fragment`,
      );
    }
    for (const ref of FRAGMENTS) {
      const block = find(blocks, ref);
      for (const [pkg, names] of namedImports(block.code)) {
        if (!pkg.startsWith('@barge/')) continue;
        const exports = (await import(pkg)) as Record<string, unknown>;
        for (const name of names) {
          assert.notEqual(
            exports[name],
            undefined,
            `${block.file}:${block.line}: ${pkg} does not export ${name}`,
          );
        }
      }
    }
  });

  it('client README, Admin: creates the topic and lists and describes it', async () => {
    const out = await runToEnd(substitute(find(blocks, EXAMPLES.clientAdmin), [toBroker()]));
    assert.match(out, /events/);
    assert.match(out, /writePartitions: 4/);
    assert.match(out, /readPartitions: 8/);
  });

  it('client README, Produce: sends, and resolves with the metadata the comment lists', async () => {
    const created = await runCli(['topics', 'create', 'metrics', '--broker', broker.address]);
    assert.equal(created.code, 0, created.stderr);
    // 'events' is the Admin example's topic; created here too when that example failed.
    await runCli([
      'topics',
      'create',
      'events',
      '--partitions',
      '4',
      '--read-partitions',
      '8',
      '--broker',
      broker.address,
    ]);
    const block = find(blocks, EXAMPLES.clientProduce);
    const documented = /\/\/ meta\[i\]: \{ ([^}]*) \}/.exec(block.code)?.[1]?.split(', ');
    assert.ok(documented, 'the comment listing the fields of meta[i]');
    const out = await runToEnd(`${substitute(block, [toBroker()])}\nconsole.log(JSON.stringify(meta));\n`);
    const meta = JSON.parse(out.trim().split('\n').at(-1) as string) as Record<string, unknown>[];
    assert.equal(meta.length, 2);
    for (const m of meta) {
      for (const field of documented) assert.ok(field in m, `meta[i].${field} in ${JSON.stringify(m)}`);
      assert.equal(m.topic, 'events');
      assert.equal(m.acks, 'durable');
    }
  });

  it('client README, Consume: joins, runs, and disconnects cleanly', async () => {
    await runToEnd(substitute(find(blocks, EXAMPLES.clientConsume), [toBroker()]));
  });

  it('README, Using it from code: the consumer prints the message the producer sent', async () => {
    const created = await runCli(['topics', 'create', 'logs', '--broker', broker.address]);
    assert.equal(created.code, 0, created.stderr);
    const run = await start(substitute(find(blocks, EXAMPLES.rootReadme), [toBroker()]));
    try {
      await waitFor('the example to print hello', () => run.stdout().split('\n').includes('hello'), 30_000);
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
    }
  });

  it('broker README, startBrokerFromConfig: serves clients and stops on SIGTERM', async () => {
    const config = join(dir.path, 'broker.yaml');
    await writeFile(
      config,
      `broker: { listen: "127.0.0.1:0", dataDir: ${JSON.stringify(join(dir.path, 'from-config'))} }\n`,
    );
    const block = find(blocks, EXAMPLES.brokerFromConfig);
    const run = await start(
      `${block.code}\nconsole.log(\`listening on \${broker.address.host}:\${broker.address.port}\`);\n`,
      [config],
    );
    try {
      const address = await waitFor(
        'the broker to listen',
        () => /listening on (\S+)/.exec(run.stdout())?.[1],
      );
      const created = await runCli(['topics', 'create', 'embedded', '--broker', address]);
      assert.equal(created.code, 0, created.stderr);
      run.child.kill('SIGTERM');
      // stop() must leave nothing behind that keeps the process alive.
      const timer = setTimeout(() => run.child.kill('SIGKILL'), 20_000);
      assert.deepEqual(await run.exited, { code: 0, signal: null }, run.stderr());
      clearTimeout(timer);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('broker README, new Broker from its parts: starts with the topic and its files where it says', async () => {
    const block = find(blocks, EXAMPLES.brokerFromParts);
    const code = substitute(block, [
      [
        "parseBrokerConfig({ topics: [{ name: 'logs' }] })",
        "parseBrokerConfig({ broker: { listen: '127.0.0.1:0' }, topics: [{ name: 'logs' }] })",
      ],
    ]);
    const out = await runToEnd(
      `${code}\nconsole.log(JSON.stringify({ healthy: broker.healthy, port: broker.address.port }));\nawait broker.stop();\n`,
    );
    // The example's pino() logs to stdout too: find the line the epilogue printed.
    const line = out.split('\n').find((l) => l.startsWith('{"healthy"'));
    const last = JSON.parse(line ?? '{}') as { healthy?: boolean; port?: number };
    assert.equal(last.healthy, true);
    assert.ok((last.port ?? 0) > 0);
    const topic = JSON.parse(
      await readFile(join(dir.path, 'data', 'objects', '_meta', 'topics', 'logs.json'), 'utf8'),
    );
    assert.equal(topic.name, 'logs');
    await readFile(join(dir.path, 'data', 'pointers.sqlite'));
  });

  it('storage-local README: puts the parts as one object and reads its head back', async () => {
    const block = find(blocks, EXAMPLES.storageLocal);
    const given =
      "const header = Buffer.from('HEADER:'); const chunk1 = Buffer.from('one,'); const chunk2 = Buffer.from('two');\n";
    const out = await runToEnd(`${given}${block.code}\nconsole.log(head.toString());\n`);
    assert.equal(out, 'HEADER:one,two\n');
    assert.equal(
      await readFile(join(dir.path, 'barge-data', 'objects', 'orders', '0', '00000042'), 'utf8'),
      'HEADER:one,two',
    );
  });
});
