import { execFileSync } from 'node:child_process';

/** A tmpfs mounted for a test: a small disk that fills up for real, then grows on demand. */
export interface Tmpfs {
  readonly path: string;
  /** Changes its size in place (`mount -o remount,size=…`); the files stay. */
  resize(bytes: number): void;
  /** Lazy unmount, so a process still holding a file cannot make it fail. */
  unmount(): void;
}

/** Mounts a tmpfs of `bytes` at `path`, or returns why it cannot (not root, no permission). */
export function mountTmpfs(path: string, bytes: number): Tmpfs | string {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', path], { stdio: 'pipe' });
  } catch (e) {
    return `cannot mount a tmpfs (needs root): ${String((e as { stderr?: unknown }).stderr ?? e).trim()}`;
  }
  return {
    path,
    resize(size) {
      execFileSync('mount', ['-o', `remount,size=${size}`, path], { stdio: 'pipe' });
    },
    unmount() {
      execFileSync('umount', ['-l', path], { stdio: 'pipe' });
    },
  };
}
