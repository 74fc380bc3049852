/**
 * Watches one step attempt against its timeout: calls `onSlow` once it has used 95% of it
 * (so the logs say which step is about to overrun) and `onOverrun` when it runs out.
 * One timer at a time per watched attempt; nothing when there is no timeout.
 */

export interface Watch {
  stop(): void;
}

export const SLOW_FRACTION = 0.95;

export function watch(timeoutMs: number, onSlow: (elapsedMs: number) => void, onOverrun: () => void): Watch {
  const started = performance.now();
  const slowAt = Math.floor(timeoutMs * SLOW_FRACTION);
  let timer: NodeJS.Timeout | undefined = setTimeout(() => {
    onSlow(performance.now() - started);
    timer = setTimeout(
      () => {
        timer = undefined;
        onOverrun();
      },
      Math.max(0, timeoutMs - (performance.now() - started)),
    );
  }, slowAt);
  return {
    stop() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
