// Response field filters: a recursive deny-list and a strict allow-list shape, compiled once at config load.

import type { FilterConfig } from '../config/types.js';

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
   * Filter a parsed JSON value. May mutate and return it. Counts each removal in `removed` by configured entry.
   * Throws FilterRejection on a shape it does not accept or nesting deeper than maxDepth.
   */
  apply(value: unknown, removed: Map<string, number>, maxDepth: number): unknown;
}

export function compileFilter(name: string, cfg: FilterConfig): { filter?: CompiledFilter; errors: string[] } {
  return cfg.mode === 'deny' ? compileDeny(name, cfg.fields) : compileAllow(name, cfg.fields);
}

const FIELD_NAME_RE = /^[A-Za-z_$@#-][A-Za-z0-9_$@#.:-]*$/;

function bump(removed: Map<string, number>, key: string): void {
  removed.set(key, (removed.get(key) ?? 0) + 1);
}

function compileDeny(name: string, fields: string[]): { filter?: CompiledFilter; errors: string[] } {
  const errors: string[] = [];
  // key name → entry to count under, for entries that match at any depth
  const anywhere = new Map<string, string>();
  // key name → (parent key name → entry), for 'parent.child' entries
  const underParent = new Map<string, Map<string, string>>();
  for (const entry of fields) {
    const parts = entry.split('.');
    if (parts.length > 2 || parts.some((p) => p.length === 0 || !FIELD_NAME_RE.test(p))) {
      errors.push(`deny entry "${entry}" must be a field name or "parent.child"`);
      continue;
    }
    if (parts.length === 1) anywhere.set(parts[0]!, entry);
    else {
      const [parent, child] = parts as [string, string];
      let m = underParent.get(child);
      if (!m) underParent.set(child, (m = new Map()));
      m.set(parent, entry);
    }
  }
  if (errors.length > 0) return { errors };

  const walk = (value: unknown, parentKey: string | null, removed: Map<string, number>, depth: number, maxDepth: number): void => {
    if (value === null || typeof value !== 'object') return;
    if (depth > maxDepth) throw new FilterRejection(`response nested deeper than ${maxDepth} levels`);
    if (Array.isArray(value)) {
      // array elements inherit the array's key as their parent, so 'columns.profile' reaches columns[i].profile
      for (let i = 0; i < value.length; i++) walk(value[i], parentKey, removed, depth + 1, maxDepth);
      return;
    }
    const rec = value as Record<string, unknown>;
    for (const key of Object.keys(rec)) {
      const hit = anywhere.get(key) ?? (parentKey !== null ? underParent.get(key)?.get(parentKey) : undefined);
      if (hit !== undefined) {
        delete rec[key];
        bump(removed, hit);
        continue;
      }
      walk(rec[key], key, removed, depth + 1, maxDepth);
    }
  };

  return {
    errors,
    filter: Object.freeze({
      name,
      mode: 'deny' as const,
      entries: Object.freeze([...fields]),
      apply(value: unknown, removed: Map<string, number>, maxDepth: number): unknown {
        walk(value, null, removed, 0, maxDepth);
        return value;
      },
    }),
  };
}

interface ShapeNode {
  fields: Map<string, ShapeNode> | null; // object with these fields
  items: ShapeNode | null; // array of these
  leaf: boolean; // scalar or array of scalars
}

const newNode = (): ShapeNode => ({ fields: null, items: null, leaf: false });

function compileAllow(name: string, fields: string[]): { filter?: CompiledFilter; errors: string[] } {
  const errors: string[] = [];
  const root = newNode();
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
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t === '[]') {
        node.items ??= newNode();
        node = node.items;
      } else {
        node.fields ??= new Map();
        let next = node.fields.get(t);
        if (!next) node.fields.set(t, (next = newNode()));
        node = next;
      }
    }
    node.leaf = true;
  }
  if (errors.length > 0) return { errors };
  // a node declared as a leaf and as a container is contradictory
  const check = (n: ShapeNode, at: string): void => {
    if (n.leaf && (n.fields || n.items)) errors.push(`allow entry "${at}" is listed both as a value and as a container`);
    n.fields?.forEach((c, k) => check(c, at ? `${at}.${k}` : k));
    if (n.items) check(n.items, `${at}[]`);
  };
  check(root, '');
  if (errors.length > 0) return { errors };

  const apply = (value: unknown, node: ShapeNode, removed: Map<string, number>, depth: number, maxDepth: number, at: string): unknown => {
    if (depth > maxDepth) throw new FilterRejection(`response nested deeper than ${maxDepth} levels`);
    if (value === null) return null;
    if (node.leaf) {
      if (typeof value !== 'object') return value;
      if (Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object')) return value;
      throw new FilterRejection(`unexpected structure at "${at}"`);
    }
    if (node.items) {
      if (!Array.isArray(value)) throw new FilterRejection(`expected an array at "${at}"`);
      const items = node.items;
      return value.map((v) => apply(v, items, removed, depth + 1, maxDepth, `${at}[]`));
    }
    if (typeof value !== 'object' || Array.isArray(value)) throw new FilterRejection(`expected an object at "${at}"`);
    const out: Record<string, unknown> = {};
    const src = value as Record<string, unknown>;
    for (const key of Object.keys(src)) {
      const child = node.fields?.get(key);
      if (!child) {
        bump(removed, UNLISTED_FIELD);
        continue;
      }
      out[key] = apply(src[key], child, removed, depth + 1, maxDepth, at ? `${at}.${key}` : key);
    }
    return out;
  };

  return {
    errors,
    filter: Object.freeze({
      name,
      mode: 'allow' as const,
      entries: Object.freeze([...fields, UNLISTED_FIELD]),
      apply(value: unknown, removed: Map<string, number>, maxDepth: number): unknown {
        return apply(value, root, removed, 0, maxDepth, '');
      },
    }),
  };
}
