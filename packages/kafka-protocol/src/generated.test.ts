import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('../', import.meta.url));

test('src/generated is exactly what scripts/generate.mjs emits (edit the generator, not the output)', (t) => {
  const out = mkdtempSync(join(tmpdir(), 'kafka-protocol-gen-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  execFileSync(process.execPath, [join(pkg, 'scripts', 'generate.mjs'), '--out', out], { stdio: 'pipe' });
  const committedDir = join(pkg, 'src', 'generated');
  const generated = readdirSync(out).sort();
  assert.deepEqual(readdirSync(committedDir).sort(), generated);
  assert.ok(generated.length >= 46);
  for (const f of generated) {
    assert.equal(
      readFileSync(join(committedDir, f), 'utf8'),
      readFileSync(join(out, f), 'utf8'),
      `src/generated/${f} differs`,
    );
  }
});
