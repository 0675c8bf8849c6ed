// The platform's own address never reaches a vendor: links in its answers (OpenMetadata's `href`, built from the Host
// the gateway sends) lose their origin and become paths the vendor can ask the gateway for.

const SLASH = 0x2f;
const BACKSLASH = 0x5c;

/** One origin to hide, as bytes, and whether it ends in a port (then only a digit can continue the address). */
export interface HiddenOrigin {
  bytes: Buffer;
  port: boolean;
  /** written with JSON's escaped slashes (`http:\/\/om`): only a body holding a backslash can contain it */
  escaped: boolean;
}

/**
 * The origins to hide: the upstream's own, then the configured ones (upstream.hiddenOrigins), each also with its
 * scheme's default port written out (`http://om` and `http://om:80`) and each also as JSON may write it with escaped
 * slashes (`http:\/\/om`), longest first so that a longer form is removed whole before a shorter one could match its
 * start.
 */
export function compileOrigins(upstreamUrl: string, extra: readonly string[]): readonly HiddenOrigin[] {
  const all = new Set<string>();
  for (const o of [new URL(upstreamUrl).origin, ...extra]) {
    const u = new URL(o);
    for (const form of u.port === '' ? [o, `${o}:${u.protocol === 'https:' ? 443 : 80}`] : [o]) {
      all.add(form);
      all.add(form.replaceAll('/', '\\/'));
    }
  }
  return [...all].sort((a, b) => b.length - a.length).map((o) => ({ bytes: Buffer.from(o, 'latin1'), port: /:\d+$/.test(o), escaped: o.includes('\\') }));
}

/** A byte that can continue a host name: after one, the origin is the start of another address. */
function continuesHost(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2e || b === 0x2d || b === 0x5f || b === 0x7e);
}

const isDigit = (b: number | undefined): boolean => b !== undefined && b >= 0x30 && b <= 0x39;

/** Whether the address goes on after `origin` at `end`: after a port only a digit continues it, after a host name more. */
function continues(origin: HiddenOrigin, b: Buffer, end: number): boolean {
  return origin.port ? isDigit(b[end]) : continuesHost(b[end]) && !(b[end] === 0x2e && !continuesHost(b[end + 1]));
}

/**
 * `body` with every origin that ends where an address ends removed: before a path (`/`, or `\/` as JSON may escape
 * it) the origin goes — `"http://platform:8585/api/v1/x"` becomes `"/api/v1/x"`, a path on the gateway — and before
 * anything else that cannot continue the address (`"`, `,`, `?`, a space, a full stop, …) it becomes `/`. After a
 * port only a digit continues an address (`http://platform:85851` is another one and stays); after a host name a
 * letter, digit, `-`, `_`, `~` or an inner `.` does (`http://platform.evil`), and a port written after a port-less
 * origin (`http://platform:8080`) is removed with it. An origin holds no quote or control character, and a backslash
 * only as the escape of a slash (the config check), so the answer stays the JSON it was.
 *
 * One pass per origin, linear in the body. A removal can join the bytes around it into an origin again
 * (`http:/http://p:1/p:1/x`): then the answer cannot be made clean by removing, and null is returned — the caller
 * refuses it — rather than removing again and again. An origin spelled with other escapes (`http\u003a//…`) or in
 * another letter case is not found.
 *
 * `body` is changed in place and a view of its first bytes returned (`body` itself when no origin is in it): it must
 * be the gateway's own copy of the answer, which the forwarder's buffers are.
 */
export function hideOrigins(body: Buffer, origins: readonly HiddenOrigin[]): Buffer | null {
  let out = body;
  let removed = false;
  // removing only takes bytes out and puts slashes in: a body without a backslash never holds an escaped form, before or
  // after, so those searches (each a pass over the whole body) are skipped
  const escapes = body.indexOf(BACKSLASH) !== -1;
  for (const origin of origins) {
    if (origin.escaped && !escapes) continue;
    const r = hideOne(out, origin);
    if (r !== out) {
      out = r;
      removed = true;
    }
  }
  if (removed) for (const origin of origins) if ((escapes || !origin.escaped) && endsAt(out, origin)) return null;
  return out;
}

/** Whether an origin still stands in `b` where an address ends (after the removals: one they put together). */
function endsAt(b: Buffer, origin: HiddenOrigin): boolean {
  const o = origin.bytes;
  for (let at = b.indexOf(o); at !== -1; at = b.indexOf(o, at + o.length)) if (!continues(origin, b, at + o.length)) return true;
  return false;
}

/** One pass for one origin, moving the kept pieces down with one native copy each. */
function hideOne(b: Buffer, origin: HiddenOrigin): Buffer {
  const o = origin.bytes;
  let at = b.indexOf(o);
  if (at === -1) return b;
  /** where the kept bytes are written (-1: nothing removed yet) and where the next kept piece starts */
  let w = -1;
  let r = 0;
  while (at !== -1) {
    let end = at + o.length;
    // a port after a port-less origin is part of the same host's address: it goes with it
    if (!origin.port && b[end] === 0x3a && isDigit(b[end + 1])) for (end += 2; isDigit(b[end]); end++);
    const next = b[end];
    if (end > at + o.length || !continues(origin, b, end)) {
      if (w === -1) w = at;
      else {
        b.copyWithin(w, r, at);
        w += at - r;
      }
      // before a path the path stays; before anything else the origin stands for the root
      if (next !== SLASH && !(next === BACKSLASH && b[end + 1] === SLASH)) b[w++] = SLASH;
      r = end;
    }
    at = b.indexOf(o, end);
  }
  if (w === -1) return b;
  b.copyWithin(w, r, b.length);
  return b.subarray(0, w + b.length - r);
}
