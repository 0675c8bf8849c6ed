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

/** The deny filter's decision on keys, as the scan asks for it (compile.ts). */
export interface KeyDenial {
  /**
   * The quick reject, read in the scan's loop: a key of length 1..maxLen can be denied only if
   * candidates[length * 128 + its first byte] is 1. No other key is ever given to `denies`.
   */
  readonly candidates: Uint8Array;
  readonly maxLen: number;
  /** the decision on a candidate */
  readonly denies: DeniesKey;
}

/** Numbers longer than this go the full way (a double needs at most 24 characters: -1.2345678901234567e-308). */
export const MAX_NUMBER_CHARS = 64;

/** Objects with more keys than this go the full way (the duplicate check compares each key with those before it). */
export const MAX_SCANNED_KEYS = 64;

// One scan runs at a time (it never yields). Its position and the innermost container live in local variables of a
// single loop (no recursion, no per-token calls: module-level state costs a memory round trip on every byte); the
// stacks below are reused from body to body and grow only for deeper nesting or more keys than seen before. The scan
// reads them through local copies (a module-level `let` is loaded and checked for its temporal dead zone at every
// use), taken again after a stack grows.
/** per open container: `{` or `[`, the key it sits under (its members' parent: start, end; -1 for none), and for an
 *  object where its keys begin on the key stack */
let kinds = new Uint8Array(64);
let parentStarts = new Int32Array(64);
let parentEnds = new Int32Array(64);
let keyBases = new Int32Array(64);
/**
 * per open object, two words of 32 bits: bit (h & 63) is set once a key with the hash h below was seen in it. A key
 * whose bit is clear cannot repeat one before it (equal keys have equal hashes), so the duplicate check compares it
 * with the keys before it only when its bit is set
 */
let keyBlooms = new Int32Array(128);
/** start and length of each key of the objects being scanned, outermost first, side by side in one array (the
 *  duplicate check reads a key's length and, only when it matches, its start) */
let keyPairs = new Int32Array(512);

function growContainers(): void {
  const size = kinds.length * 2;
  const k = new Uint8Array(size);
  const ps = new Int32Array(size);
  const pe = new Int32Array(size);
  const kb = new Int32Array(size);
  const bl = new Int32Array(2 * size);
  k.set(kinds);
  ps.set(parentStarts);
  pe.set(parentEnds);
  kb.set(keyBases);
  bl.set(keyBlooms);
  kinds = k;
  parentStarts = ps;
  parentEnds = pe;
  keyBases = kb;
  keyBlooms = bl;
}

function growKeys(): void {
  const p = new Int32Array(keyPairs.length * 2);
  p.set(keyPairs);
  keyPairs = p;
}

// Four bytes at a time (SWAR) through the bytes of strings, which are most of an answer's bytes: a word is skipped
// whole when none of its bytes ends or escapes the string or is one the scan must look at; otherwise the byte loop
// takes over at the word's first byte. For each byte x of a 32-bit word w (the borrow of a subtraction can only set a
// flag above a byte that is already flagged, so "any flag" is exact):
// - (w - 0x20202020) & ~w has bit 7 of a byte set where x < 0x20 (a control byte);
// - with t = w ^ 0x22222222 (or ^ 0x5c5c5c5c, ^ 0x7f7f7f7f), (t - 0x01010101) & ~t has it set where x is '"' ('\\',
//   DEL);
// - w itself has it set where x >= 0x80 (not ASCII).
const HIGH_BITS = 0x80808080 | 0;
const ONES = 0x01010101;
const CONTROL_LIMIT = 0x20202020;
const QUOTES = 0x22222222;
const BACKSLASHES = 0x5c5c5c5c;
const DELS = 0x7f7f7f7f;

const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;

/** Whether `body` can be sent as it is: the filter would remove nothing and re-serialising would change no value. */
export function unchangedByFilter(body: Buffer, maxDepth: number, denial: KeyDenial): boolean {
  const b = body;
  const n = b.length;
  let j = 0;
  /** containers open (the depth of the innermost, counted as the filter counts: `{}` and `[1]` are depth 1) */
  let top = 0;
  let keyTop = 0;
  /** the key the next value sits under: a container opened there gives it to its members as their parent */
  let pks = -1;
  let pke = -1;
  /** an object was opened or continued with a comma: a key comes next */
  let expectKey = false;
  let c = 0;
  let kinds_ = kinds;
  let parentStarts_ = parentStarts;
  let parentEnds_ = parentEnds;
  let keyBases_ = keyBases;
  let keyBlooms_ = keyBlooms;
  let keyPairs_ = keyPairs;
  const { candidates, maxLen, denies } = denial;
  const words = new DataView(b.buffer, b.byteOffset, n);
  while (j < n && ((c = b[j]!) === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) j++;
  for (;;) {
    if (expectKey) {
      // --- a key: printable ASCII without escapes, not seen before in this object, not one the filter removes
      if (j >= n || b[j] !== 0x22) return false;
      const ks = j + 1;
      let ke = ks;
      // whole words of printable ASCII other than '"' and '\\'
      while (ke + 4 <= n) {
        const w = words.getInt32(ke, true);
        const q = w ^ QUOTES;
        const e = w ^ BACKSLASHES;
        const d = w ^ DELS;
        if ((((w - CONTROL_LIMIT) & ~w) | ((q - ONES) & ~q) | ((e - ONES) & ~e) | ((d - ONES) & ~d) | w) & HIGH_BITS) break;
        ke += 4;
      }
      for (;;) {
        if (ke >= n) return false;
        c = b[ke]!;
        if (c === 0x22) break;
        if (c < 0x20 || c > 0x7e || c === 0x5c) return false;
        ke++;
      }
      j = ke + 1;
      const base = keyBases_[top - 1]!;
      if (keyTop - base >= MAX_SCANNED_KEYS) return false;
      const len = ke - ks;
      // the key's hash for the duplicate check: its length, first and last byte (for "" the quotes around it)
      const h = (len + (b[ks]! << 1) + b[ke - 1]! * 7) & 63;
      const slot = 2 * (top - 1) + (h >>> 5);
      const bit = 1 << (h & 31);
      if ((keyBlooms_[slot]! & bit) !== 0) {
        for (let k = base; k < keyTop; k++) {
          if (keyPairs_[2 * k + 1] !== len) continue;
          const s = keyPairs_[2 * k]!;
          let m = 0;
          while (m < len && b[s + m] === b[ks + m]) m++;
          if (m === len) return false;
        }
      }
      keyBlooms_[slot] = keyBlooms_[slot]! | bit;
      if (len !== 0 && len <= maxLen && candidates[len * 128 + b[ks]!] === 1 && denies(b, ks, ke, parentStarts_[top - 1]!, parentEnds_[top - 1]!)) return false;
      if (2 * keyTop === keyPairs_.length) {
        growKeys();
        keyPairs_ = keyPairs;
      }
      keyPairs_[2 * keyTop] = ks;
      keyPairs_[2 * keyTop + 1] = len;
      keyTop++;
      while (j < n && ((c = b[j]!) === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) j++;
      if (j >= n || b[j] !== 0x3a) return false;
      j++;
      while (j < n && ((c = b[j]!) === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) j++;
      pks = ks;
      pke = ke;
      expectKey = false;
    }

    // --- a value at j, under the key pks..pke
    if (j >= n) return false;
    c = b[j]!;
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (top >= maxDepth) return false;
      if (top === kinds_.length) {
        growContainers();
        kinds_ = kinds;
        parentStarts_ = parentStarts;
        parentEnds_ = parentEnds;
        keyBases_ = keyBases;
        keyBlooms_ = keyBlooms;
      }
      kinds_[top] = c;
      parentStarts_[top] = pks;
      parentEnds_[top] = pke;
      keyBases_[top] = keyTop;
      keyBlooms_[2 * top] = 0;
      keyBlooms_[2 * top + 1] = 0;
      top++;
      j++;
      while (j < n && ((c = b[j]!) === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) j++;
      const empty = j < n && b[j] === (kinds_[top - 1] === OPEN_OBJECT ? 0x7d : 0x5d);
      if (!empty) {
        // an object's first key, or an array's first element (under the array's own key)
        if (kinds_[top - 1] === OPEN_OBJECT) expectKey = true;
        continue;
      }
      j++;
      top--;
    } else if (c === 0x22) {
      // a string: any UTF-8 (checked before), no bare control character, only JSON's escapes
      j++;
      for (;;) {
        // whole words without '"', '\\' or a control byte
        while (j + 4 <= n) {
          const w = words.getInt32(j, true);
          const q = w ^ QUOTES;
          const e = w ^ BACKSLASHES;
          if ((((w - CONTROL_LIMIT) & ~w) | ((q - ONES) & ~q) | ((e - ONES) & ~e)) & HIGH_BITS) break;
          j += 4;
        }
        while (j < n) {
          c = b[j]!;
          if (c === 0x22 || c === 0x5c || c < 0x20) break;
          j++;
        }
        if (j >= n || c < 0x20) return false;
        if (c === 0x22) {
          j++;
          break;
        }
        const e = b[j + 1];
        if (e === 0x75) {
          if (j + 6 > n || !isHex(b[j + 2]!) || !isHex(b[j + 3]!) || !isHex(b[j + 4]!) || !isHex(b[j + 5]!)) return false;
          j += 6;
        } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) j += 2;
        else return false;
      }
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      j = number(b, j, n);
      if (j < 0) return false;
    } else if (c === 0x74) {
      if (j + 4 > n || b[j + 1] !== 0x72 || b[j + 2] !== 0x75 || b[j + 3] !== 0x65) return false;
      j += 4;
    } else if (c === 0x66) {
      if (j + 5 > n || b[j + 1] !== 0x61 || b[j + 2] !== 0x6c || b[j + 3] !== 0x73 || b[j + 4] !== 0x65) return false;
      j += 5;
    } else if (c === 0x6e) {
      if (j + 4 > n || b[j + 1] !== 0x75 || b[j + 2] !== 0x6c || b[j + 3] !== 0x6c) return false;
      j += 4;
    } else return false;

    // --- after a value: close the containers it ends, or move on to the next member
    for (;;) {
      while (j < n && ((c = b[j]!) === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) j++;
      if (top === 0) return j === n;
      if (j >= n) return false;
      c = b[j++]!;
      if (kinds_[top - 1] === OPEN_OBJECT) {
        if (c === 0x7d) {
          keyTop = keyBases_[top - 1]!;
          top--;
          continue;
        }
        if (c !== 0x2c) return false;
        expectKey = true;
      } else {
        if (c === 0x5d) {
          top--;
          continue;
        }
        if (c !== 0x2c) return false;
        // the next element, under the array's own key, as in the filter
        pks = parentStarts_[top - 1]!;
        pke = parentEnds_[top - 1]!;
      }
      while (j < n && ((c = b[j]!) === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) j++;
      break;
    }
  }
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;

/**
 * A number at b[start] by JSON's grammar within ±2^53, as the filter requires (the full way refuses beyond, see
 * compile.ts); returns where it ends, or -1. Without an exponent, at most 15 digits before any fraction always is
 * (|v| < 10^15 < 2^53); anything else is read as JSON.parse would and held to that bound.
 */
function number(b: Buffer, start: number, n: number): number {
  let i = start;
  if (b[i] === 0x2d) i++;
  if (i >= n) return -1;
  if (b[i] === 0x30) i++;
  else if (isDigit(b[i])) while (isDigit(b[i])) i++;
  else return -1;
  const intDigits = i - start - (b[start] === 0x2d ? 1 : 0);
  let plain = true;
  if (b[i] === 0x2e) {
    i++;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i++;
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    plain = false;
    i++;
    if (b[i] === 0x2b || b[i] === 0x2d) i++;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i++;
  }
  // an unusually long number goes the full way, which writes it in its shortest form: some clients refuse numbers
  // of more than 1000 characters, and none needs more digits than a double holds
  if (i - start > MAX_NUMBER_CHARS) return -1;
  if (plain && intDigits <= 15) return i;
  let text = '';
  for (let k = start; k < i; k++) text += String.fromCharCode(b[k]!);
  const v = Number(text);
  return v <= Number.MAX_SAFE_INTEGER && v >= -Number.MAX_SAFE_INTEGER ? i : -1;
}
