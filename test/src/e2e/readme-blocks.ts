import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../harness.js';

/** One fenced code block of a Markdown file. */
export interface CodeBlock {
  /** Repository-relative path of the Markdown file. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  readonly code: string;
  /** The `## ` heading the block sits under ('' before the first one). */
  readonly section: string;
}

/** Every fenced (```) code block of `file` (relative to the repository root). */
export async function codeBlocks(file: string): Promise<CodeBlock[]> {
  const text = await readFile(join(repoRoot, file), 'utf8');
  const blocks: CodeBlock[] = [];
  let section = '';
  let open: { line: number; lang: string; lines: string[] } | undefined;
  text.split('\n').forEach((line, i) => {
    if (open) {
      if (/^```\s*$/.test(line)) {
        blocks.push({ file, line: open.line, lang: open.lang, code: open.lines.join('\n'), section });
        open = undefined;
      } else {
        open.lines.push(line);
      }
      return;
    }
    const fence = /^```(\S*)\s*$/.exec(line);
    if (fence) open = { line: i + 1, lang: fence[1] ?? '', lines: [] };
    else if (line.startsWith('## ')) section = line.slice(3).trim();
  });
  if (open) throw new Error(`${file}:${open.line}: code block never closed`);
  return blocks;
}

/** `import { A, B as C } from 'pkg'` lines of a code block: package → imported names. */
export function namedImports(code: string): Map<string, string[]> {
  const imports = new Map<string, string[]>();
  for (const m of code.matchAll(/^import\s+(?!type\b)\{([^}]*)\}\s+from\s+'([^']+)'/gm)) {
    const names = (m[1] as string)
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== '' && !n.startsWith('type '))
      .map((n) => n.split(/\s+as\s+/)[0] as string);
    const pkg = m[2] as string;
    imports.set(pkg, [...(imports.get(pkg) ?? []), ...names]);
  }
  return imports;
}

/** A shell line without its trailing `# comment` (the quick start's lines have no quoted `#`). */
export function withoutComment(line: string): string {
  return line.replace(/\s+#.*$/, '').trim();
}
