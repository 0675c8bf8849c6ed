// The platform's own address never reaches a vendor: links in its answers (OpenMetadata's `href`, built from the Host
// the gateway sends) lose their origin and become paths the vendor can ask the gateway for.

const SLASH = 0x2f;
const BACKSLASH = 0x5c;

/** One origin to hide, as bytes, and whether it ends in a port (then only a digit can continue the address). */
export interface HiddenOrigin {
  bytes: Buffer;
  port: boolean;
}

/** Every origin to hide starts with these bytes (it is http or https, written plain or with JSON's escaped slashes). */
const NEEDLE = Buffer.from('http', 'latin1');

/**
 * The origins to hide: the upstream's own, then the configured ones (upstream.hiddenOrigins), each also with its
 * scheme's default port written out (`http://om` and `http://om:80`) and each also as JSON may write it with escaped
 * slashes (`http:\/\/om`), longest first so that where a longer form stands it is removed before a shorter one could
 * match its start.
 */
export function compileOrigins(upstreamUrl: string, extra: readonly string[]): readonly HiddenOrigin[] {
  const all = new Set<string>();
  for (const o of [new URL(upstreamUrl).origin, ...extra]) {
    const u = new URL(o);
    // the configuration check allows only http and https origins; the search below relies on it
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`not an http or https origin: ${o}`);
    for (const form of u.port === '' ? [o, `${o}:${u.protocol === 'https:' ? 443 : 80}`] : [o]) {
      all.add(form);
      all.add(form.replaceAll('/', '\\/'));
    }
  }
  return Object.freeze([...all].sort((a, b) => b.length - a.length).map((o) => ({ bytes: Buffer.from(o, 'latin1'), port: /:\d+$/.test(o) })));
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

/** Whether `o` stands at b[at], where NEEDLE is known to stand. */
function startsAt(b: Buffer, o: Buffer, at: number): boolean {
  const n = o.length;
  if (at + n > b.length) return false;
  for (let i = NEEDLE.length; i < n; i++) if (b[at + i] !== o[i]) return false;
  return true;
}

/**
 * Where the address to remove at b[at] ends: the first origin (longest first) that stands there and ends where an
 * address ends — with the port written after a port-less origin, which goes with it — or -1 when none does.
 */
function removableEnd(b: Buffer, list: readonly HiddenOrigin[], at: number): number {
  for (let k = 0; k < list.length; k++) {
    const origin = list[k]!;
    const o = origin.bytes;
    if (!startsAt(b, o, at)) continue;
    let end = at + o.length;
    // a port after a port-less origin is part of the same host's address: it goes with it
    if (!origin.port && b[end] === 0x3a && isDigit(b[end + 1])) for (end += 2; isDigit(b[end]); end++);
    if (end > at + o.length || !continues(origin, b, end)) return end;
  }
  return -1;
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
 * One pass over the body, linear in it: every place "http" stands is looked at once, and at each the longest origin
 * that can be removed there goes. A removal can make an origin stand where one did not (`http:/http://p:1/p:1/x`:
 * the bytes before and after it join into one): then the answer cannot be made clean by removing, and null is
 * returned — the caller refuses it — rather than removing again and again. An origin spelled with other escapes
 * (`http\u003a//…`) or in another letter case is not found.
 *
 * Why only the places where "http" stood can hold such an origin afterwards: every origin starts with "http"; the byte
 * after each removal is a slash (the path's own, or one put in) or the backslash of an escaped one, and "http" holds
 * neither, so no "http" spans a removal; and "http" does not overlap itself, so the pass saw every one in the body.
 * What a removal can change is what follows an "http" that stayed, so those are looked at again once the pass is done.
 *
 * `body` is changed in place and a view of its first bytes returned (`body` itself when no origin is in it): it must
 * be the gateway's own copy of the answer, which the forwarder's buffers are.
 */
export function hideOrigins(body: Buffer, list: readonly HiddenOrigin[]): Buffer | null {
  const b = body;
  let at = b.indexOf(NEEDLE);
  if (at === -1) return b;
  /** where the kept bytes are written (-1: nothing removed yet) and where the next kept piece starts */
  let w = -1;
  let r = 0;
  /** where each "http" that stayed is in the answer as sent, once the bytes before it have moved down */
  let kept: number[] | undefined;
  while (at !== -1) {
    const end = removableEnd(b, list, at);
    if (end === -1) {
      (kept ??= []).push(w === -1 ? at : w + (at - r));
      at = b.indexOf(NEEDLE, at + NEEDLE.length);
      continue;
    }
    if (w === -1) w = at;
    else {
      b.copyWithin(w, r, at);
      w += at - r;
    }
    // before a path the path stays; before anything else the origin stands for the root
    const next = b[end];
    if (next !== SLASH && !(next === BACKSLASH && b[end + 1] === SLASH)) b[w++] = SLASH;
    r = end;
    at = b.indexOf(NEEDLE, end);
  }
  if (w === -1) return b;
  b.copyWithin(w, r, b.length);
  const out = b.subarray(0, w + b.length - r);
  if (kept !== undefined) for (const k of kept) if (removableEnd(out, list, k) !== -1) return null;
  return out;
}
