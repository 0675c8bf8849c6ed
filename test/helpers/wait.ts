// Waiting in tests for something that happens after an answer (an audit record, an upstream request).

/** The first value `fn` gives that is not undefined, polled every 5 ms; throws after `ms`. */
export async function waitFor<T>(fn: () => T | undefined, ms = 2000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}
