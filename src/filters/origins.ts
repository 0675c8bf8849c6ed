// The platform's own address never reaches a vendor: links in its answers (OpenMetadata's `href`, built from the Host
// the gateway sends) lose their origin and become paths the vendor can ask the gateway for.

const SLASH = 0x2f;
const QUOTE = 0x22;
const SLASH_BYTES = Buffer.from('/');

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
 * stays the JSON it was. Returns `body` itself when nothing was found (one native search per origin).
 * Each pass removes at least one origin, so the repetition ends.
 */
export function hideOrigins(body: Buffer, origins: readonly Buffer[]): Buffer {
  const once = hideOnce(body, origins);
  // removing one can complete another (`http://p:1http://p:1"` → `http://p:1/"`): again until nothing is left
  return once === body ? body : hideOrigins(once, origins);
}

function hideOnce(body: Buffer, origins: readonly Buffer[]): Buffer {
  let src = body;
  for (const origin of origins) {
    let at = src.indexOf(origin);
    if (at === -1) continue;
    const parts: Buffer[] = [];
    let from = 0;
    while (at !== -1) {
      const end = at + origin.length;
      const next = src[end];
      if (next === SLASH || next === QUOTE) {
        parts.push(src.subarray(from, at));
        if (next === QUOTE) parts.push(SLASH_BYTES);
        from = end;
      }
      at = src.indexOf(origin, end);
    }
    if (parts.length > 0) {
      parts.push(src.subarray(from));
      src = Buffer.concat(parts);
    }
  }
  return src;
}
