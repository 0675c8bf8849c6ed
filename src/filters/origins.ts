// The platform's own address never reaches a vendor: links in its answers (OpenMetadata's `href`, built from the Host
// the gateway sends) lose their origin and become paths the vendor can ask the gateway for.

const SLASH = 0x2f;
const QUOTE = 0x22;

/** The origins to hide, as bytes: the upstream's own, then the configured ones (upstream.hiddenOrigins). */
export function compileOrigins(upstreamUrl: string, extra: readonly string[]): readonly Buffer[] {
  const all = [new URL(upstreamUrl).origin, ...extra];
  return [...new Set(all)].map((o) => Buffer.from(o, 'latin1'));
}

/**
 * `body` with every origin that ends a JSON string or is followed by a path removed: `"http://platform:8585/api/v1/x"`
 * becomes `"/api/v1/x"`, a bare `"http://platform:8585"` becomes `"/"`. An origin followed by anything else
 * (`http://platform:85851`, `http://platform:8585.evil`) is another address and stays. An origin holds no quote,
 * backslash or control character (the config check), so removing it never breaks a string or an escape: the answer
 * stays the JSON it was.
 *
 * `body` is changed in place and a view of its first bytes returned (`body` itself when no origin is in it): it must
 * be the gateway's own copy of the answer, which the forwarder's buffers are. One native search per origin, and one
 * native move per piece kept: a fraction of cutting and joining a new buffer.
 */
export function hideOrigins(body: Buffer, origins: readonly Buffer[]): Buffer {
  let out = body;
  let again = true;
  while (again) {
    again = false;
    for (const origin of origins) {
      const r = hideOne(out, origin, origins);
      out = r.out;
      // removing one completed another (`http://p:1http://p:1"` → `http://p:1/"`): once more until nothing is left
      if (r.again) again = true;
    }
  }
  return out;
}

/** One pass for one origin; `again` when a removed origin came right after what could be the end of another. */
function hideOne(b: Buffer, origin: Buffer, origins: readonly Buffer[]): { out: Buffer; again: boolean } {
  let at = b.indexOf(origin);
  if (at === -1) return { out: b, again: false };
  /** where the kept bytes are written (-1: nothing removed yet) and where the next kept piece starts */
  let w = -1;
  let r = 0;
  let again = false;
  while (at !== -1) {
    const end = at + origin.length;
    const next = b[end];
    if (next === SLASH || next === QUOTE) {
      if (w === -1) w = at;
      else {
        b.copyWithin(w, r, at);
        w += at - r;
      }
      if (next === QUOTE) b[w++] = SLASH;
      r = end;
      if (w > 0 && origins.some((o) => o[o.length - 1] === b[w - 1 - (next === QUOTE ? 1 : 0)])) again = true;
    }
    at = b.indexOf(origin, end);
  }
  if (w === -1) return { out: b, again: false };
  b.copyWithin(w, r, b.length);
  return { out: b.subarray(0, w + b.length - r), again };
}
