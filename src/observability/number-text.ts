// Decimal text for the integers a request turns into text (the audit record's duration and chain sequence number,
// the rate-limit headers), made without V8's number-to-string cache.
//
// String(n), `${n}` and n.toString() keep each result in that cache, a table of recent conversions in the old
// generation. A number that differs on every request (a duration in nanoseconds, a sequence number, the requests
// left in a window) takes a slot there and holds its string past the next two young-generation collections, so every
// such string is promoted to the old generation and waits for a full collection: under load ≈ 60 bytes per request
// for the gateway, and with them more full collections and more of the collector's helper-thread time
// (docs/performance.md, eighteenth pass). Text put together from the fixed strings below is young garbage only.

/** "0" … "999" */
const GROUP: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i));
/** "000" … "999": a group after the first */
const PADDED: readonly string[] = GROUP.map((s) => s.padStart(3, '0'));

/** `String(n)` for any number; for a safe integer ≥ 0 without the number-to-string cache. */
export function integerText(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) return String(n);
  if (n < 1000) return GROUP[n]!;
  let rest = n;
  let text = '';
  while (rest >= 1000) {
    // exact: `rest` is a safe integer, so are its remainder and the quotient of the difference
    const low = rest % 1000;
    text = PADDED[low]! + text;
    rest = (rest - low) / 1000;
  }
  return GROUP[rest]! + text;
}
