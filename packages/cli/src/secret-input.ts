import { readFile } from 'node:fs/promises';
import { CliError } from './fail.js';

/**
 * Reads secrets the way the CLI accepts them: from a file, from stdin, or typed at a prompt
 * without echo; never from a flag value (it would show in `ps` and shell history).
 */

/** A file's contents without one trailing newline. */
export async function readSecretFile(file: string, flag: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new CliError(
      `${flag}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`,
      2,
    );
  }
  return nonEmpty(stripNewline(text), `${flag} ${file}`);
}

/** The password from stdin: its first line, or typed twice at a prompt without echo when stdin is a terminal. */
export async function readPasswordFromStdin(what: string): Promise<string> {
  if (process.stdin.isTTY) {
    const first = await promptHidden(`Password for ${what}: `);
    const again = await promptHidden('Again: ');
    if (first !== again) throw new CliError('the passwords do not match', 2);
    return nonEmpty(first, 'the password typed');
  }
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const line = Buffer.concat(chunks).toString('utf8').split(/\r?\n/, 1)[0] ?? '';
  return nonEmpty(line, 'stdin');
}

function stripNewline(s: string): string {
  return s.replace(/\r?\n$/, '');
}

function nonEmpty(s: string, from: string): string {
  if (s === '') throw new CliError(`no password in ${from}`, 2);
  return s;
}

/** One line typed on the terminal, not echoed. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    const done = (e?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (e) reject(e);
      else resolve(typed);
    };
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new CliError('interrupted', 1));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    stdin.on('data', onData);
  });
}
