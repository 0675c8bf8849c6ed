// The platform's own address never reaches a vendor: links in its answers (OpenMetadata's `href`, built from the Host
// the gateway sends) lose their origin and become paths the vendor can ask the gateway for.

const SLASH = 0x2f;
const BACKSLASH = 0x5c;

/**
 * The origins to hide, as bytes: the upstream's own, then the configured ones (upstream.hiddenOrigins), each also with
 * its scheme's default port written out (`http://om` and `http://om:80`), longest first so that a longer form is
 * removed whole before a shorter one could match its start.
 */
export function compileOrigins(upstreamUrl: string, extra: readonly string[]): readonly Buffer[] {
  const all = new Set<string>();
  for (const o of [new URL(upstreamUrl).origin, ...extra]) {
    all.add(o);
    const u = new URL(o);
    if (u.port === '') all.add(`${o}:${u.protocol === 'https:' ? 443 : 80}`);
  }
  return [...all].sort((a, b) => b.length - a.length).map((o) => Buffer.from(o, 'latin1'));
}

/** A byte that can continue a host name or a port: after one, the origin is the start of another address. */
function continuesAddress(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2e || b === 0x2d || b === 0x5f || b === 0x7e);
}

/**
 * `body` with every origin that ends where an address ends removed: before a path (`/`, or `\/` as JSON may escape
 * it) the origin goes — `"http://platform:8585/api/v1/x"` becomes `"/api/v1/x"`, a path on the gateway — and before
 * anything else that cannot continue a host or port (`"`, `,`, `?`, `:`, a space, …) it becomes `/`. An origin
 * followed by a letter, digit, `.`, `-`, `_` or `~` is the start of another address (`http://platform:85851`,
 * `http://platform.evil`) and stays. An origin holds no quote, backslash or control character (the config check), so
 * the answer stays the JSON it was.
 *
 * One pass per origin, linear in the body. A removal can join the bytes around it into an origin again
 * (`http:/http://p:1/p:1/x`): then the answer cannot be made clean by removing, and null is returned — the caller
 * refuses it — rather than removing again and again.
 *
 * `body` is changed in place and a view of its first bytes returned (`body` itself when no origin is in it): it must
 * be the gateway's own copy of the answer, which the forwarder's buffers are.
 */
export function hideOrigins(body: Buffer, origins: readonly Buffer[]): Buffer | null {
  let out = body;
  let removed = false;
  for (const origin of origins) {
    const r = hideOne(out, origin);
    if (r !== out) {
      out = r;
      removed = true;
    }
  }
  if (removed) for (const origin of origins) if (endsAt(out, origin)) return null;
  return out;
}

/** Whether an origin still stands in `b` where an address ends (after the removals: one they put together). */
function endsAt(b: Buffer, origin: Buffer): boolean {
  for (let at = b.indexOf(origin); at !== -1; at = b.indexOf(origin, at + origin.length)) if (!continuesAddress(b[at + origin.length])) return true;
  return false;
}

/** One pass for one origin, moving the kept pieces down with one native copy each. */
function hideOne(b: Buffer, origin: Buffer): Buffer {
  let at = b.indexOf(origin);
  if (at === -1) return b;
  /** where the kept bytes are written (-1: nothing removed yet) and where the next kept piece starts */
  let w = -1;
  let r = 0;
  while (at !== -1) {
    const end = at + origin.length;
    const next = b[end];
    if (!continuesAddress(next)) {
      if (w === -1) w = at;
      else {
        b.copyWithin(w, r, at);
        w += at - r;
      }
      // before a path the path stays; before anything else the origin stands for the root
      if (next !== SLASH && !(next === BACKSLASH && b[end + 1] === SLASH)) b[w++] = SLASH;
      r = end;
    }
    at = b.indexOf(origin, end);
  }
  if (w === -1) return b;
  b.copyWithin(w, r, b.length);
  return b.subarray(0, w + b.length - r);
}
