// The deny filter's raw-bytes check (DESIGN §8): prove, in one pass over the upstream's bytes, that parsing, filtering
// and re-serialising the answer would change nothing a client can read, so that the bytes can be passed on as they are.
//
// The scan answers only "unchanged" or "not proven". It never refuses and never filters: whatever it does not prove —
// a denied key, a duplicate key, an escaped or non-ASCII key, a number JSON cannot carry exactly, nesting past the
// limit, anything outside the strict JSON grammar, an object with very many keys — goes the full way (JSON.parse, the
// filter, JSON.stringify), which refuses or filters it exactly as before. So the scan can only ever be too cautious.
//
// What a body it passes is, byte for byte:
// - JSON by RFC 8259's grammar and nothing more (no comments, no trailing commas, no leading zeros, no bare control
//   characters in strings, only the nine escapes), one value with whitespace around it. The caller has already
//   checked it is UTF-8 without a byte order mark (isUtf8 rejects encoded surrogates and overlong forms);
// - without a duplicate key in any object: with duplicates, clients disagree on which value counts (JSON.parse keeps
//   the last, others the first), and the filter decides on the value JSON.parse keeps;
// - with every key plain printable ASCII without escapes, so the bytes are the name, and the deny lookup sees exactly
//   the string JSON.parse would make (a non-ASCII letter can lower-case to an ASCII one, "\u0073ampleData" spells a
//   denied key in escapes: both go the full way);
// - without any key the filter would remove, decided by the filter's own lookup on that string and its parent's;
// - without a number beyond ±2^53 (JSON.parse would round it; the full way refuses it);
// - no deeper than maxDepth, counted as the filter counts (`{}` and `[1]` are depth 1);
// - no number longer than 64 characters (the full way writes it in its shortest form).
// Every such body parses to a value the filter returns unchanged, and it is at most as long as its re-serialisation
// could be made to fit: the bytes are the upstream's, already within upstream.maxResponseBytes.

/** Decides whether the key at b[ks..ke) (plain ASCII) is removed under the parent key at b[pks..pke) (pks < 0: none). */
export type DeniesKey = (b: Buffer, ks: number, ke: number, pks: number, pke: number) => boolean;

/** Numbers longer than this go the full way (a double needs at most 24 characters: -1.2345678901234567e-308). */
export const MAX_NUMBER_CHARS = 64;

/** Objects with more keys than this go the full way (the duplicate check compares each key with those before it). */
export const MAX_SCANNED_KEYS = 64;

// The scan's state, module-level: one scan runs at a time (it never yields) and nothing is allocated per body.
let b: Buffer = Buffer.alloc(0);
let i = 0;
let n = 0;
let limit = 0;
let denies: DeniesKey = () => true;
/** start and end of the keys of the objects being scanned, outermost first (a stack; keyTop is its height) */
let keyStarts = new Int32Array(256);
let keyEnds = new Int32Array(256);
let keyTop = 0;

/** Whether `body` can be sent as it is: the filter would remove nothing and re-serialising would change no value. */
export function unchangedByFilter(body: Buffer, maxDepth: number, deniesKey: DeniesKey): boolean {
  b = body;
  n = body.length;
  i = 0;
  limit = maxDepth;
  denies = deniesKey;
  keyTop = 0;
  try {
    skipWs();
    if (!value(0, -1, -1)) return false;
    skipWs();
    return i === n;
  } finally {
    b = EMPTY;
    denies = NONE;
  }
}

const EMPTY = Buffer.alloc(0);
const NONE: DeniesKey = () => true;

function skipWs(): void {
  const buf = b;
  let j = i;
  while (j < n) {
    const c = buf[j]!;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    j++;
  }
  i = j;
}

/** One value at b[i] inside a container at `depth`, its key (or its array's key) at b[pks..pke). */
function value(depth: number, pks: number, pke: number): boolean {
  if (i >= n) return false;
  const c = b[i]!;
  if (c === 0x7b) return object(depth + 1, pks, pke);
  if (c === 0x5b) return array(depth + 1, pks, pke);
  if (c === 0x22) return string();
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return number();
  if (c === 0x74) return word(TRUE);
  if (c === 0x66) return word(FALSE);
  if (c === 0x6e) return word(NULL);
  return false;
}

const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

function word(w: readonly number[]): boolean {
  if (i + w.length > n) return false;
  for (let k = 0; k < w.length; k++) if (b[i + k] !== w[k]) return false;
  i += w.length;
  return true;
}

function object(depth: number, pks: number, pke: number): boolean {
  if (depth > limit) return false;
  i++;
  skipWs();
  if (i < n && b[i] === 0x7d) {
    i++;
    return true;
  }
  const base = keyTop;
  try {
    for (;;) {
      if (i >= n || b[i] !== 0x22) return false;
      const ks = i + 1;
      const ke = keyEnd(ks);
      if (ke < 0) return false;
      i = ke + 1;
      if (keyTop - base >= MAX_SCANNED_KEYS) return false;
      if (isDuplicate(base, ks, ke)) return false;
      if (denies(b, ks, ke, pks, pke)) return false;
      pushKey(ks, ke);
      skipWs();
      if (i >= n || b[i] !== 0x3a) return false;
      i++;
      skipWs();
      if (!value(depth, ks, ke)) return false;
      skipWs();
      if (i >= n) return false;
      const c = b[i++];
      if (c === 0x7d) return true;
      if (c !== 0x2c) return false;
      skipWs();
    }
  } finally {
    keyTop = base;
  }
}

/** Where the key starting at `ks` ends (its closing quote), or -1 unless it is printable ASCII without escapes. */
function keyEnd(ks: number): number {
  const buf = b;
  const end = n;
  for (let j = ks; j < end; j++) {
    const c = buf[j]!;
    if (c === 0x22) return j;
    if (c < 0x20 || c > 0x7e || c === 0x5c) return -1;
  }
  return -1;
}

function pushKey(ks: number, ke: number): void {
  if (keyTop === keyStarts.length) {
    const s = new Int32Array(keyStarts.length * 2);
    const e = new Int32Array(keyEnds.length * 2);
    s.set(keyStarts);
    e.set(keyEnds);
    keyStarts = s;
    keyEnds = e;
  }
  keyStarts[keyTop] = ks;
  keyEnds[keyTop] = ke;
  keyTop++;
}

/** Whether the object whose keys start at stack index `base` already has the key b[ks..ke). */
function isDuplicate(base: number, ks: number, ke: number): boolean {
  const len = ke - ks;
  for (let k = base; k < keyTop; k++) {
    const s = keyStarts[k]!;
    if (keyEnds[k]! - s !== len) continue;
    let j = 0;
    while (j < len && b[s + j] === b[ks + j]) j++;
    if (j === len) return true;
  }
  return false;
}

function array(depth: number, pks: number, pke: number): boolean {
  if (depth > limit) return false;
  i++;
  skipWs();
  if (i < n && b[i] === 0x5d) {
    i++;
    return true;
  }
  for (;;) {
    // elements inherit the array's key as their parent, as in the filter
    if (!value(depth, pks, pke)) return false;
    skipWs();
    if (i >= n) return false;
    const c = b[i++];
    if (c === 0x5d) return true;
    if (c !== 0x2c) return false;
    skipWs();
  }
}

/** A string value: any UTF-8 (checked before), no bare control character, only JSON's escapes. */
function string(): boolean {
  const buf = b;
  const end = n;
  let j = i + 1;
  for (;;) {
    // the common case: a run of plain characters (locals: this loop is most of the scan)
    let c = 0;
    while (j < end) {
      c = buf[j]!;
      if (c === 0x22 || c === 0x5c || c < 0x20) break;
      j++;
    }
    if (j >= end || c < 0x20) {
      i = j;
      return false;
    }
    if (c === 0x22) {
      i = j + 1;
      return true;
    }
    const e = buf[j + 1];
    if (e === 0x75) {
      if (j + 6 > end || !isHex(buf[j + 2]!) || !isHex(buf[j + 3]!) || !isHex(buf[j + 4]!) || !isHex(buf[j + 5]!)) return false;
      j += 6;
    } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) j += 2;
    else return false;
  }
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;

/**
 * A number by JSON's grammar within ±2^53, as the filter requires (the full way refuses beyond, see compile.ts):
 * without an exponent, at most 15 digits before any fraction always is (|v| < 10^15 < 2^53); anything else is read as
 * JSON.parse would and held to that bound.
 */
function number(): boolean {
  const start = i;
  if (b[i] === 0x2d) i++;
  if (i >= n) return false;
  if (b[i] === 0x30) i++;
  else if (isDigit(b[i])) while (isDigit(b[i])) i++;
  else return false;
  const intDigits = i - start - (b[start] === 0x2d ? 1 : 0);
  let plain = true;
  if (b[i] === 0x2e) {
    i++;
    if (!isDigit(b[i])) return false;
    while (isDigit(b[i])) i++;
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    plain = false;
    i++;
    if (b[i] === 0x2b || b[i] === 0x2d) i++;
    if (!isDigit(b[i])) return false;
    while (isDigit(b[i])) i++;
  }
  // an unusually long number goes the full way, which writes it in its shortest form: some clients refuse numbers
  // of more than 1000 characters, and none needs more digits than a double holds
  if (i - start > MAX_NUMBER_CHARS) return false;
  if (plain && intDigits <= 15) return true;
  let text = '';
  for (let k = start; k < i; k++) text += String.fromCharCode(b[k]!);
  const v = Number(text);
  return v <= Number.MAX_SAFE_INTEGER && v >= -Number.MAX_SAFE_INTEGER;
}
