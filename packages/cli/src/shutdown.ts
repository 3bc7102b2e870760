const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type ShutdownSignal = (typeof SIGNALS)[number];

/**
 * Resolves with the first SIGINT or SIGTERM. The handlers are removed when it arrives, so a
 * second signal gets the default action: the process ends at once, even if JavaScript is stuck.
 * Installed before the broker starts, so a signal during startup is not lost either.
 */
export function firstShutdownSignal(): Promise<ShutdownSignal> {
  return new Promise((resolve) => {
    const onSignal = (signal: ShutdownSignal) => {
      for (const s of SIGNALS) process.off(s, onSignal);
      resolve(signal);
    };
    for (const s of SIGNALS) process.on(s, onSignal);
  });
}

/**
 * Writes to a closed pipe (`barge broker | tee log`, then Ctrl-C ends tee first) fail with EPIPE.
 * A process that only reports on stdout/stderr has nobody left to tell: drop those errors
 * instead of dying of them halfway through a graceful shutdown.
 */
export function ignoreBrokenPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') return;
      throw e;
    });
  }
}

/** Ends the process with `code` after `ms`, whatever is still running (unless it ends first). */
export function exitAfter(ms: number, code: number, message: string): void {
  setTimeout(() => {
    process.stderr.write(message);
    process.exit(code);
  }, ms).unref();
}
