// Response field filters: a recursive deny-list and a strict allow-list shape, compiled once at config load.

import type { FilterConfig } from '../config/types.js';
import { unchangedByFilter, type DeniesKey, type KeyDenial } from './scan.js';

/** Thrown when a response does not have the shape its filter expects; the gateway answers 502 response_rejected. */
export class FilterRejection extends Error {
  override readonly name = 'FilterRejection';
}

/** Label under which allow-mode removals of unlisted fields are counted (metric labels stay bounded). */
export const UNLISTED_FIELD = '_unlisted';

export interface CompiledFilter {
  readonly name: string;
  readonly mode: 'deny' | 'allow';
  /** the configured entries: the only values removal counts are keyed by */
  readonly entries: readonly string[];
  /**
   * Filter a parsed JSON value. May mutate its input; use the returned value. Counts each removal in `removed` by
   * configured entry. Throws FilterRejection on a shape it does not accept or on nesting deeper than maxDepth
   * (the number of nested arrays/objects: `{}` and `[1]` are depth 1, `{"a":[{}]}` is depth 3).
   */
  apply(value: unknown, removed: Map<string, number>, maxDepth: number): unknown;
  /**
   * Whether the raw body (UTF-8 without a byte order mark, checked by the caller) can be passed on byte for byte:
   * it is strict JSON that apply() would return unchanged and that re-serialising would not alter (src/filters/scan.ts).
   * False means only "not proven": the body then goes through JSON.parse, apply() and JSON.stringify. Always false
   * for an allow filter, which rebuilds every answer to its shape.
   */
  unchanged(body: Buffer, maxDepth: number): boolean;
}

export function compileFilter(name: string, cfg: FilterConfig): { filter?: CompiledFilter; errors: string[] } {
  if (cfg.fields.length === 0) return { errors: [`filter "${name}" lists no fields (a ${cfg.mode} filter needs at least one)`] };
  const seen = new Set<string>();
  const dupes = cfg.fields.filter((f) => seen.size === seen.add(f).size);
  if (dupes.length > 0) return { errors: dupes.map((d) => `entry "${d}" is listed more than once`) };
  return cfg.mode === 'deny' ? compileDeny(name, cfg.fields) : compileAllow(name, cfg.fields);
}

const FIELD_NAME_RE = /^[A-Za-z_$@#-][A-Za-z0-9_$@#:-]*$/;

function bump(removed: Map<string, number>, key: string): void {
  removed.set(key, (removed.get(key) ?? 0) + 1);
}

function tooDeep(maxDepth: number): FilterRejection {
  return new FilterRejection(`response nested deeper than ${maxDepth} levels`);
}

/**
 * A number JSON.parse cannot have read exactly: beyond ±2^53 integers are rounded (9007199254740993 → …992,
 * 1234567890123456789 → …800) and past the double range a value is Infinity, which JSON.stringify writes as null.
 * Re-serialising must not change what the platform said, so an answer holding one is refused, not rounded.
 */
function inexactNumber(v: unknown): boolean {
  return typeof v === 'number' && (v > Number.MAX_SAFE_INTEGER || v < -Number.MAX_SAFE_INTEGER);
}

function inexact(): FilterRejection {
  return new FilterRejection('a number beyond ±2^53, which JSON cannot carry exactly');
}

/** Set an own enumerable property even for the key "__proto__" (plain assignment would replace the prototype). */
function setOwn(obj: Record<string, unknown>, key: string, v: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value: v, writable: true, enumerable: true, configurable: true });
  else obj[key] = v;
}

/** What a deny filter knows about one key name: removed anywhere, and/or only under certain parent keys. */
interface DenyKey {
  /** the configured entry that removes this key anywhere */
  anywhere?: string;
  /** lower-cased parent key → the configured "parent.child" entry */
  parents?: Map<string, string>;
}

/**
 * Deny entries match key names regardless of ASCII case, for the key and for the parent of a "parent.child" entry:
 * an upstream that spells a data-bearing key "SampleData" or "DataModel"."SQL" must not get it past the filter, and
 * removing more is the fail-closed direction (the vendor sees only metadata). Compiled names are stored lower-cased
 * and each key is looked up folded (foldKey). Entries are ASCII (FIELD_NAME_RE), so every ASCII case variant
 * matches; so do the non-ASCII letters that fold onto an ASCII one somewhere: U+212A KELVIN SIGN ("k"), U+017F LONG S
 * ("s": Go's encoding/json matches `"ſql"` to a struct field `SQL`), U+0131 DOTLESS I and U+0130 CAPITAL I WITH DOT
 * ("i") — more removed, never less. Removal counts stay keyed by the configured entry, whatever spelling the upstream
 * used.
 */
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A key as the deny lookup compares it: lower-cased; in a key with non-ASCII letters each character is upper-cased
 * and then lower-cased on its own (ſ → S → s, ı → I → i, K → k), İ becomes i, and a character whose case mapping is
 * longer than itself (ß → SS) is kept as it is — so every letter that a per-character case-insensitive decoder folds
 * onto an ASCII letter becomes that letter, and the key keeps its length (the quick reject below relies on it).
 * Folding too much only removes more.
 */
function foldKey(key: string): string {
  if (!NON_ASCII.test(key)) return key.toLowerCase();
  let out = '';
  for (const ch of key) {
    const upper = ch.toUpperCase();
    const u = upper.length === ch.length ? upper : ch;
    const lower = u.toLowerCase();
    out += lower.length === u.length ? lower : u === '\u0130' ? 'i' : u;
  }
  return out;
}

function compileDeny(name: string, fields: string[]): { filter?: CompiledFilter; errors: string[] } {
  const errors: string[] = [];
  // lower-cased key name → how it is denied (one lookup per key while walking)
  const denied = new Map<string, DenyKey>();
  const slot = (key: string): DenyKey => {
    let d = denied.get(key);
    if (!d) denied.set(key, (d = {}));
    return d;
  };
  // lower-cased entry → the entry as configured: two entries that differ only in case would be one entry
  const folded = new Map<string, string>();
  for (const entry of fields) {
    const parts = entry.split('.');
    if (parts.length > 2 || parts.some((p) => p.length === 0 || !FIELD_NAME_RE.test(p))) {
      errors.push(`deny entry "${entry}" must be a field name or "parent.child"`);
      continue;
    }
    const lower = entry.toLowerCase();
    const first = folded.get(lower);
    if (first !== undefined) {
      errors.push(`deny entry "${entry}" is the same as "${first}" (deny entries match key names regardless of case)`);
      continue;
    }
    folded.set(lower, entry);
    if (parts.length === 1) slot(lower).anywhere = entry;
    else {
      const [parent, child] = lower.split('.') as [string, string];
      (slot(child).parents ??= new Map()).set(parent, entry);
    }
  }
  if (errors.length > 0) return { errors };

  // A quick reject, so that most keys are never lower-cased (a new string to hash on every camelCase key): a key can
  // only be denied if some denied name has its length and its first character, in either case. A key whose first
  // character is not ASCII always takes the full lookup. False positives only cost that lookup; there are no false
  // negatives, since foldKey keeps a key's length and folds an ASCII first character to its own lower case.
  let maxLen = 0;
  for (const k of denied.keys()) maxLen = Math.max(maxLen, k.length);
  const candidate = new Uint8Array((maxLen + 1) * 128);
  for (const k of denied.keys()) {
    const c = k.charCodeAt(0);
    candidate[k.length * 128 + c] = 1;
    if (c >= 0x61 && c <= 0x7a) candidate[k.length * 128 + c - 0x20] = 1;
  }
  const lookup = (key: string): DenyKey | undefined => {
    const len = key.length;
    if (len > maxLen) return undefined;
    const c = key.charCodeAt(0);
    return c >= 128 || candidate[len * 128 + c] === 1 ? denied.get(foldKey(key)) : undefined;
  };

  // The same decision on raw bytes, for the scan: the key and its parent are plain ASCII there (the scan sends any
  // other key the full way), so the byte length is the string length and latin1 decoding gives JSON.parse's string.
  const deniesKey: DeniesKey = (b, ks, ke, pks, pke) => {
    const d = denied.get(b.toString('latin1', ks, ke).toLowerCase());
    if (d === undefined) return false;
    if (d.anywhere !== undefined) return true;
    return pks >= 0 && d.parents !== undefined && d.parents.has(b.toString('latin1', pks, pke).toLowerCase());
  };
  // the scan reads the quick reject (the same table as lookup above) and asks deniesKey only about the candidates
  const denial: KeyDenial = Object.freeze({ candidates: candidate, maxLen, denies: deniesKey });

  // Returns the filtered container. An object that loses a key is rebuilt without it rather than `delete`d: delete
  // turns V8 objects into slow dictionaries (and stringify with them); untouched objects are returned as they are.
  const walk = (value: object, parentKey: string | null, removed: Map<string, number>, depth: number, maxDepth: number): object => {
    if (depth > maxDepth) throw tooDeep(maxDepth);
    if (Array.isArray(value)) {
      // array elements inherit the array's key as their parent, so 'columns.profile' reaches columns[i].profile
      for (let i = 0; i < value.length; i++) {
        const v: unknown = value[i];
        if (v !== null && typeof v === 'object') {
          const w = walk(v, parentKey, removed, depth + 1, maxDepth);
          if (w !== v) value[i] = w;
        } else if (inexactNumber(v)) throw inexact();
      }
      return value;
    }
    const rec = value as Record<string, unknown>;
    const keys = Object.keys(rec);
    let out: Record<string, unknown> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const d = lookup(key);
      if (d !== undefined) {
        // the parent key is lower-cased only here: when this key's name is denied under some parent
        const hit = d.anywhere ?? (parentKey !== null && d.parents !== undefined ? d.parents.get(foldKey(parentKey)) : undefined);
        if (hit !== undefined) {
          bump(removed, hit);
          if (out === undefined) {
            out = {};
            for (let j = 0; j < i; j++) setOwn(out, keys[j]!, rec[keys[j]!]);
          }
          continue;
        }
      }
      let v = rec[key];
      if (v !== null && typeof v === 'object') {
        const w = walk(v, key, removed, depth + 1, maxDepth);
        if (w !== v) {
          v = w;
          // an own data property: assignment never reaches a prototype setter, even for "__proto__"
          if (out === undefined) rec[key] = w;
        }
      } else if (inexactNumber(v)) throw inexact();
      if (out !== undefined) setOwn(out, key, v);
    }
    return out ?? rec;
  };

  return {
    errors,
    filter: Object.freeze({
      name,
      mode: 'deny' as const,
      entries: Object.freeze([...fields]),
      apply(value: unknown, removed: Map<string, number>, maxDepth: number): unknown {
        if (inexactNumber(value)) throw inexact();
        return value !== null && typeof value === 'object' ? walk(value, null, removed, 1, maxDepth) : value;
      },
      unchanged(body: Buffer, maxDepth: number): boolean {
        return unchangedByFilter(body, maxDepth, denial);
      },
    }),
  };
}

interface ShapeNode {
  fields: Map<string, ShapeNode> | null; // object with these fields
  items: ShapeNode | null; // array of these
  leaf: boolean; // scalar or array of scalars
  path: string; // for rejection messages: configured names only, never text from the response
}

const newNode = (path: string): ShapeNode => ({ fields: null, items: null, leaf: false, path });

function compileAllow(name: string, fields: string[]): { filter?: CompiledFilter; errors: string[] } {
  const errors: string[] = [];
  const root = newNode('');
  for (const entry of fields) {
    // tokens: names and '[]' markers, e.g. 'data[].columns[].name' → data [] columns [] name
    const tokens: string[] = [];
    let bad = false;
    for (const part of entry.split('.')) {
      const m = /^([A-Za-z_$@#][A-Za-z0-9_$@#:-]*)?((?:\[\])*)$/.exec(part);
      if (!m || (!m[1] && !m[2]) || (!m[1] && tokens.length > 0) || m[1] === '__proto__') {
        bad = true;
        break;
      }
      if (m[1]) tokens.push(m[1]);
      for (let i = 0; i < (m[2]?.length ?? 0) / 2; i++) tokens.push('[]');
    }
    if (bad || tokens.length === 0) {
      errors.push(`allow entry "${entry}" must look like "a.b", "a[]" or "a[].b"`);
      continue;
    }
    let node = root;
    for (const t of tokens) {
      if (t === '[]') node = node.items ??= newNode(`${node.path}[]`);
      else {
        node.fields ??= new Map();
        let next = node.fields.get(t);
        if (!next) node.fields.set(t, (next = newNode(node.path ? `${node.path}.${t}` : t)));
        node = next;
      }
    }
    node.leaf = true;
  }
  if (errors.length > 0) return { errors };
  // a node declared as a leaf and as a container, or as an object and an array, is contradictory
  const check = (n: ShapeNode): void => {
    const at = n.path ? `allow entry "${n.path}"` : 'the top level';
    if (n.leaf && (n.fields || n.items)) errors.push(`${at} is listed both as a value and as a container`);
    else if (n.fields && n.items) errors.push(`${at} is listed both as an object and as an array`);
    n.fields?.forEach((c) => check(c));
    if (n.items) check(n.items);
  };
  check(root);
  if (errors.length > 0) return { errors };

  const isScalar = (v: unknown): boolean => v === null || typeof v !== 'object';

  const apply = (value: unknown, node: ShapeNode, removed: Map<string, number>, depth: number, maxDepth: number): unknown => {
    if (value === null || typeof value !== 'object') {
      if (inexactNumber(value)) throw inexact();
      if (node.leaf || value === null) return value;
      throw new FilterRejection(`expected ${node.items ? 'an array' : 'an object'} at "${node.path}"`);
    }
    // value is a container: it adds a level
    if (depth > maxDepth) throw tooDeep(maxDepth);
    if (node.leaf) {
      if (Array.isArray(value) && value.every(isScalar)) {
        if (value.some(inexactNumber)) throw inexact();
        return value;
      }
      throw new FilterRejection(`unexpected structure at "${node.path}"`);
    }
    if (node.items) {
      if (!Array.isArray(value)) throw new FilterRejection(`expected an array at "${node.path}"`);
      const items = node.items;
      const out = new Array<unknown>(value.length);
      for (let i = 0; i < value.length; i++) out[i] = apply(value[i], items, removed, depth + 1, maxDepth);
      return out;
    }
    if (Array.isArray(value)) throw new FilterRejection(`expected an object at "${node.path}"`);
    const out: Record<string, unknown> = {};
    const src = value as Record<string, unknown>;
    const keys = Object.keys(src);
    const fieldsOf = node.fields;
    let unlisted = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const child = fieldsOf?.get(key);
      if (!child) {
        unlisted++;
        continue;
      }
      setOwn(out, key, apply(src[key], child, removed, depth + 1, maxDepth));
    }
    if (unlisted > 0) removed.set(UNLISTED_FIELD, (removed.get(UNLISTED_FIELD) ?? 0) + unlisted);
    return out;
  };

  return {
    errors,
    filter: Object.freeze({
      name,
      mode: 'allow' as const,
      entries: Object.freeze([...fields, UNLISTED_FIELD]),
      apply(value: unknown, removed: Map<string, number>, maxDepth: number): unknown {
        return apply(value, root, removed, 1, maxDepth);
      },
      unchanged(): boolean {
        return false;
      },
    }),
  };
}
