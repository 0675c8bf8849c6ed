// Stage 1: parse the raw request target once into a canonical path and query, refusing anything ambiguous.
//
// Canonical form: origin-form only; percent-encodings of safe characters (unreserved, sub-delims, ':' '@') are
// decoded, every other allowed encoding is kept with upper-case hex; encodings of '/', '\', '%', ';', '?', '#',
// control bytes and every byte >= 0x80 are refused, as are raw ';', '\', dot segments, segments ending in '.',
// segments starting with '..', empty segments and over-long targets. Later stages see only this form; the raw
// target is never read again.
//
// Segments starting with '..' ('..x') are not dot segments in RFC 3986, but the forwarder (@fastify/reply-from)
// refuses any source containing '/..' after it decided nothing: refusing them here keeps the component that decides
// and the one that forwards in agreement, and gives the vendor a path_rejected answer instead of a late error.

export interface CanonicalTarget {
  /** canonical path, always starting with '/' */
  path: string;
  /** canonical path segments (without the leading empty one); '/' has none */
  segments: string[];
  /** decoded query values by key, in the order they were sent; keys are unique */
  query: Map<string, string>;
}

export type CanonicalResult =
  | { ok: true; target: CanonicalTarget }
  | { ok: false; status: 400 | 414; detail: string };

export interface CanonicaliseLimits {
  maxPathLength: number;
  maxQueryLength: number;
  maxQueryParams: number;
}

export const DEFAULT_CANONICALISE_LIMITS: CanonicaliseLimits = Object.freeze({
  maxPathLength: 2048,
  maxQueryLength: 2048,
  maxQueryParams: 16,
});

// Byte classes for raw path characters.
const RAW_OK = 1; // allowed as is
const SAFE_DECODE = 2; // when percent-encoded: decode to the character
const KEEP_ENCODED = 4; // when percent-encoded: keep encoded (upper-case hex)

const PATH_CLASS = new Uint8Array(128);
(() => {
  const set = (chars: string, flags: number) => {
    for (const ch of chars) PATH_CLASS[ch.charCodeAt(0)]! |= flags;
  };
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  set(alnum + '-._~', RAW_OK | SAFE_DECODE); // unreserved
  set("!$&'()*+,=:@", RAW_OK | SAFE_DECODE); // sub-delims except ';', plus ':' '@'
  set(' "<>[]^`{|}', KEEP_ENCODED); // printable, legal only when encoded (e.g. quotes in fully qualified names)
  // '/', '\', '%', ';', '?', '#', controls and DEL are neither: raw ';' '\' are refused; encoded ones are refused.
})();

const QUERY_KEY_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

const HEX = '0123456789ABCDEF';

function reject(detail: string, status: 400 | 414 = 400): CanonicalResult {
  return { ok: false, status, detail };
}

export function canonicalise(raw: string, limits: CanonicaliseLimits = DEFAULT_CANONICALISE_LIMITS): CanonicalResult {
  if (typeof raw !== 'string' || raw.length === 0) return reject('empty request target');
  if (raw.charCodeAt(0) !== 47 /* / */) return reject('request target must be origin-form (start with "/")');

  const q = raw.indexOf('?');
  const rawPath = q === -1 ? raw : raw.slice(0, q);
  const rawQuery = q === -1 ? '' : raw.slice(q + 1);
  if (rawPath.length > limits.maxPathLength) return reject(`path longer than ${limits.maxPathLength} bytes`, 414);
  if (rawQuery.length > limits.maxQueryLength) return reject(`query longer than ${limits.maxQueryLength} bytes`, 414);

  // A segment is taken from the target with one slice per run of characters kept as they are; only a percent-encoding
  // breaks a run (a string built a character at a time costs an allocation per character). Without any encoding the
  // canonical path is the target's own path.
  const segments: string[] = [];
  let encoded = false;
  if (rawPath.length > 1) {
    /** the segment so far, up to `run`: set only once an encoding was decoded or re-cased in it */
    let seg = '';
    let run = 1;
    for (let i = 1; i <= rawPath.length; i++) {
      if (i === rawPath.length || rawPath.charCodeAt(i) === 47) {
        const s = seg === '' ? rawPath.slice(run, i) : seg + rawPath.slice(run, i);
        const err = checkSegment(s);
        if (err !== null) return reject(err);
        segments.push(s);
        seg = '';
        run = i + 1;
        continue;
      }
      const c = rawPath.charCodeAt(i);
      if (c >= 128) return reject('non-ASCII byte in path');
      if (c === 37 /* % */) {
        const hi = hexVal(rawPath.charCodeAt(i + 1));
        const lo = hexVal(rawPath.charCodeAt(i + 2));
        if (hi < 0 || lo < 0) return reject('malformed percent-encoding in path');
        const b = hi * 16 + lo;
        if (b >= 128) return reject('percent-encoded non-ASCII byte in path');
        const cls = PATH_CLASS[b]!;
        if (cls & SAFE_DECODE) seg += rawPath.slice(run, i) + String.fromCharCode(b);
        else if (cls & KEEP_ENCODED) seg += rawPath.slice(run, i) + '%' + HEX[hi] + HEX[lo];
        else return reject(`percent-encoded ${describeByte(b)} in path`);
        encoded = true;
        i += 2;
        run = i + 1;
        continue;
      }
      const cls = PATH_CLASS[c]!;
      if (!(cls & RAW_OK)) return reject(`${describeByte(c)} in path`);
    }
  }

  const path = segments.length === 0 ? '/' : encoded ? '/' + segments.join('/') : rawPath;
  const query = new Map<string, string>();
  if (rawQuery.length > 0) {
    const parts = rawQuery.split('&');
    if (parts.length > limits.maxQueryParams) return reject(`more than ${limits.maxQueryParams} query parameters`);
    for (const part of parts) {
      if (part.length === 0) return reject('empty query parameter');
      const eq = part.indexOf('=');
      if (eq === -1) return reject('query parameter without a value');
      const key = part.slice(0, eq);
      if (!QUERY_KEY_RE.test(key)) return reject('query parameter name is not a plain name (a letter, then letters, digits, "_", ".", "-"; never encoded)');
      if (query.has(key)) return reject(`query parameter "${key}" repeated`);
      const value = decodeQueryValue(part.slice(eq + 1));
      if (value === null) return reject(`query parameter "${key}" has a malformed or forbidden value`);
      query.set(key, value);
    }
  }
  return { ok: true, target: { path, segments, query } };
}

function checkSegment(seg: string): string | null {
  if (seg.length === 0) return 'empty path segment';
  if (seg === '.' || seg === '..') return 'dot segment in path';
  if (seg.charCodeAt(seg.length - 1) === 46) return 'path segment ending in "."';
  if (seg.startsWith('..')) return 'path segment starting with ".."';
  return null;
}

// Query values: raw unreserved, sub-delims (but not '+', '&', ';'), ':', '@', '/', '?', '='; percent-encodings of
// printable ASCII are decoded. '+' is refused (space or plus? we do not guess); controls and non-ASCII are refused.
const QUERY_RAW = new Uint8Array(128);
(() => {
  for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$'()*,=:@/?") QUERY_RAW[ch.charCodeAt(0)] = 1;
})();

function decodeQueryValue(raw: string): string | null {
  // as for the path: one slice per run of characters kept as they are
  let out = '';
  let run = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37) {
      const hi = hexVal(raw.charCodeAt(i + 1));
      const lo = hexVal(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return null;
      const b = hi * 16 + lo;
      if (b < 0x20 || b >= 0x7f) return null;
      out += raw.slice(run, i) + String.fromCharCode(b);
      i += 2;
      run = i + 1;
      continue;
    }
    if (c >= 128 || QUERY_RAW[c] !== 1) return null;
  }
  return run === 0 ? raw : out + raw.slice(run);
}

function describeByte(b: number): string {
  switch (b) {
    case 0: return 'NUL byte';
    case 47: return '"/"';
    case 92: return 'backslash';
    case 37: return '"%"';
    case 59: return '";" (matrix parameter)';
    case 63: return '"?"';
    case 35: return '"#" (fragment)';
    default:
      if (b < 0x20 || b === 0x7f) return 'control byte';
      return `character "${String.fromCharCode(b)}"`;
  }
}

/** Encode a decoded query value for the upstream request: everything but unreserved characters is percent-encoded. */
export function encodeQueryValue(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}
