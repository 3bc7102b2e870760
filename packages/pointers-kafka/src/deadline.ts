/** `p`, or the error `timeout()` makes once `deadline` (ms since the epoch) passes; `onTimeout` runs first. */
export function settleBy<T>(
  p: Promise<T>,
  deadline: number,
  timeout: () => Error,
  onTimeout?: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => {
        onTimeout?.();
        reject(timeout());
      },
      Math.max(0, deadline - Date.now()),
    );
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
