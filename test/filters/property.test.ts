// Property tests of the deny filter: for random JSON trees with denied keys sprinkled at random depths, no denied key
// survives anywhere and everything else comes out unchanged (checked against an independent reference).
//
// Deny entries match key names regardless of ASCII case (for the key and for the parent of a "parent.child" entry):
// keys and configured entries are generated in random case, and the reference folds ASCII case on its own.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileFilter, FilterRejection } from '../../src/filters/compile.js';
import { recordGenerated } from '../security/summary.js';

const NUM_RUNS = 2_500;
const MAX_DEPTH = 1000;

/** Ordinary keys, keys that only look like denied ones (never in any case), and the prototype-related names. */
const PLAIN_KEYS = ['id', 'name', 'columns', 'facets', 'data', 'rows', 'uri', 'function', 'sampleDataX', 'SAMPLE_DATA', 'sample-data', '__proto__', 'constructor', 'toString', 'a.b', ''];
/** Candidates for deny entries: some become anywhere-entries, some parents of parent.child entries. */
const DENY_CANDIDATES = ['sampleData', 'profile', 'sql', 'args', 'latestRun', 'errorMessage'];
const PARENT_CANDIDATES = ['dataSource', 'columns', 'facets', 'data'];
const CHILD_CANDIDATES = ['uri', 'function', 'name', 'sql'];
/** Strings that spell denied keys (values are never rewritten). */
const STRING_VALUES = ['sampleData', '{"sampleData":1}', 'profile', 'dataSource.uri', 'x', ''];

type Tree = { t: 'obj'; entries: Array<[string, Tree]> } | { t: 'arr'; items: Tree[] } | { t: 'str'; v: string } | { t: 'num'; v: number } | { t: 'lit'; v: 'true' | 'false' | 'null' };

/** ASCII case folding written independently of the engine (which lower-cases with String.prototype.toLowerCase). */
const fold = (s: string): string => s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));

/** A name in random ASCII case: "sampleData" → "SaMpleDATA", "sampledata", … (the case mask is shrinkable). */
const anyCase = (names: readonly string[]) =>
  fc.tuple(fc.constantFrom(...names), fc.array(fc.boolean(), { minLength: 16, maxLength: 16 })).map(([name, upper]) =>
    [...name].map((ch, i) => (upper[i % upper.length] ? ch.toUpperCase() : ch.toLowerCase())).join(''),
  );

/** Keys biased towards the interesting ones, so most trees hold denied keys at several depths and in several cases. */
const keyArb = fc.oneof(
  { arbitrary: fc.constantFrom(...DENY_CANDIDATES), weight: 3 },
  { arbitrary: fc.constantFrom(...PARENT_CANDIDATES), weight: 3 },
  { arbitrary: fc.constantFrom(...CHILD_CANDIDATES), weight: 2 },
  { arbitrary: anyCase([...DENY_CANDIDATES, ...PARENT_CANDIDATES, ...CHILD_CANDIDATES]), weight: 3 },
  { arbitrary: fc.constantFrom(...PLAIN_KEYS), weight: 3 },
  { arbitrary: fc.string({ maxLength: 4 }), weight: 1 },
);

const treeArb = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'medium', maxDepth: 9, withCrossShrink: true },
    { arbitrary: fc.oneof(fc.constantFrom(...STRING_VALUES), fc.string({ maxLength: 6 })).map((v): Tree => ({ t: 'str', v })), weight: 1 },
    // within ±2^53: numbers beyond it are refused (compile.test.ts › numbers beyond ±2^53; the property below)
    { arbitrary: fc.oneof(fc.integer(), fc.double({ noNaN: true, min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER })).map((v): Tree => ({ t: 'num', v })), weight: 1 },
    { arbitrary: fc.constantFrom('true', 'false', 'null').map((v): Tree => ({ t: 'lit', v: v as 'true' | 'false' | 'null' })), weight: 1 },
    { arbitrary: fc.array(fc.tuple(keyArb, tie('tree')), { maxLength: 5 }).map((entries): Tree => ({ t: 'obj', entries })), weight: 4 },
    { arbitrary: fc.array(tie('tree'), { maxLength: 4 }).map((items): Tree => ({ t: 'arr', items })), weight: 2 },
  ),
})).tree;

/** JSON text of a tree: keys are written out as JSON text so "__proto__" becomes an own property when parsed. */
function toJson(tree: Tree): string {
  switch (tree.t) {
    case 'obj':
      return `{${tree.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(',')}}`;
    case 'arr':
      return `[${tree.items.map(toJson).join(',')}]`;
    case 'str':
      return JSON.stringify(tree.v);
    case 'num':
      return JSON.stringify(tree.v);
    case 'lit':
      return tree.v;
  }
}

/** Random case for a configured entry too: "SQL" in the config denies "sql" in the answer and the other way round. */
const caseMaskArb = fc.array(fc.boolean(), { minLength: 32, maxLength: 32 });
const recase = (entry: string, upper: boolean[]): string => [...entry].map((ch, i) => (upper[i]! ? ch.toUpperCase() : ch)).join('');
const entriesArb = fc
  .record({
    anywhere: fc.subarray(DENY_CANDIDATES, { minLength: 1 }),
    scoped: fc.subarray(PARENT_CANDIDATES.flatMap((p) => CHILD_CANDIDATES.map((c) => `${p}.${c}`))),
    anywhereCase: fc.array(caseMaskArb, { minLength: DENY_CANDIDATES.length, maxLength: DENY_CANDIDATES.length }),
    scopedCase: fc.array(caseMaskArb, { minLength: 16, maxLength: 16 }),
  })
  .map(({ anywhere, scoped, anywhereCase, scopedCase }) => ({
    anywhere: anywhere.map((e, i) => (i % 2 === 0 ? e : recase(e, anywhereCase[i]!))),
    scoped: scoped.map((e, i) => (i % 2 === 0 ? e : recase(e, scopedCase[i]!))),
  }));

/** Folded name → configured entry: what the reference and the leak check look keys up in. */
type Denied = { anywhere: Map<string, string>; scoped: Map<string, string> };
const deniedOf = (anywhere: readonly string[], scoped: readonly string[]): Denied => ({
  anywhere: new Map(anywhere.map((e) => [fold(e), e])),
  scoped: new Map(scoped.map((e) => [fold(e), e])),
});
/** The configured entry that denies key `k` under parent key `parent`, if any (case-insensitively; anywhere wins). */
const denyingEntry = (d: Denied, k: string, parent: string | null): string | undefined =>
  d.anywhere.get(fold(k)) ?? (parent !== null ? d.scoped.get(`${fold(parent)}.${fold(k)}`) : undefined);

/** Reference semantics written independently of the engine: a fresh copy without denied keys, and the counts. */
function reference(value: unknown, denied: Denied, counts: Map<string, number>, parent: string | null = null): unknown {
  if (Array.isArray(value)) return value.map((v) => reference(v, denied, counts, parent));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = Object.create(Object.prototype) as Record<string, unknown>;
  for (const [k, v] of Object.entries(value)) {
    const entry = denyingEntry(denied, k, parent);
    if (entry !== undefined) {
      counts.set(entry, (counts.get(entry) ?? 0) + 1);
      continue;
    }
    Object.defineProperty(out, k, { value: reference(v, denied, counts, k), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Every (path, key) where a denied key — in any ASCII case — occurs in `value`. */
function deniedOccurrences(value: unknown, denied: Denied, parent: string | null = null, at = '$'): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => deniedOccurrences(v, denied, parent, `${at}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  const found: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (denyingEntry(denied, k, parent) !== undefined) found.push(`${at}.${k}`);
    found.push(...deniedOccurrences(v, denied, k, `${at}.${k}`));
  }
  return found;
}

/** How many keys in `value` are denied by an entry they (or their parent key) differ from only in case. */
function caseVariantOccurrences(value: unknown, denied: Denied, parent: string | null = null): number {
  if (Array.isArray(value)) return value.reduce<number>((n, v) => n + caseVariantOccurrences(v, denied, parent), 0);
  if (value === null || typeof value !== 'object') return 0;
  let n = 0;
  for (const [k, v] of Object.entries(value)) {
    const entry = denyingEntry(denied, k, parent);
    if (entry !== undefined && entry !== k && entry !== `${parent}.${k}`) n++;
    n += caseVariantOccurrences(v, denied, k);
  }
  return n;
}

/** Every leaf path with its value, array indices included: the "everything else unchanged" check. */
function leaves(value: unknown, at = '$', out = new Map<string, unknown>()): Map<string, unknown> {
  if (Array.isArray(value)) {
    if (value.length === 0) out.set(at, '[]');
    value.forEach((v, i) => leaves(v, `${at}[${i}]`, out));
  } else if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) out.set(at, '{}');
    for (const [k, v] of entries) leaves(v, `${at}.${JSON.stringify(k)}`, out);
  } else out.set(at, value);
  return out;
}

describe('deny filter properties', () => {
  it(`never lets a denied key through and keeps everything else unchanged (${NUM_RUNS} runs)`, () => {
    // the generator must actually exercise removals, and at depth
    const seen = { runs: 0, removing: 0, deepRemovals: 0, scopedRemovals: 0, caseVariants: 0 };
    fc.assert(
      fc.property(treeArb, entriesArb, (tree, { anywhere, scoped }) => {
        const fields = [...anywhere, ...scoped];
        const { filter, errors } = compileFilter('prop', { mode: 'deny', fields });
        expect(errors).toEqual([]);
        const text = toJson(tree);
        const denied = deniedOf(anywhere, scoped);

        const occurrences = deniedOccurrences(JSON.parse(text), denied);
        seen.runs++;
        if (occurrences.length > 0) seen.removing++;
        if (caseVariantOccurrences(JSON.parse(text), denied) > 0) seen.caseVariants++;
        if (occurrences.some((p) => p.split(/\.|\[/).length > 4)) seen.deepRemovals++;

        const removed = new Map<string, number>();
        const out = filter!.apply(JSON.parse(text), removed, MAX_DEPTH);
        if ([...removed.keys()].some((k) => k.includes('.'))) seen.scopedRemovals++;
        // what a vendor would receive, parsed back
        const received = JSON.parse(JSON.stringify(out)) as unknown;

        expect(deniedOccurrences(received, denied)).toEqual([]);
        const refCounts = new Map<string, number>();
        const expected = reference(JSON.parse(text), denied, refCounts);
        expect(JSON.stringify(out)).toBe(JSON.stringify(expected));
        expect(leaves(received)).toEqual(leaves(JSON.parse(JSON.stringify(expected))));
        expect(Object.fromEntries(removed)).toEqual(Object.fromEntries(refCounts));
        for (const key of removed.keys()) expect(fields).toContain(key);
        // nothing reached a prototype
        expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
        expect(Object.getPrototypeOf(out === null || typeof out !== 'object' ? {} : out)).toBe(Array.isArray(out) ? Array.prototype : Object.prototype);
      }),
      { numRuns: NUM_RUNS },
    );
    recordGenerated(seen.runs);
    expect(seen.runs).toBeGreaterThanOrEqual(NUM_RUNS);
    expect(seen.removing / seen.runs).toBeGreaterThan(0.3);
    expect(seen.deepRemovals).toBeGreaterThan(300);
    expect(seen.scopedRemovals).toBeGreaterThan(100);
    // trees where a key differs from the entry that denies it only in case, in quantity
    expect(seen.caseVariants).toBeGreaterThan(500);
  });

  it(`paths that contain no denied key are preserved exactly, even when every candidate key is denied (${NUM_RUNS} runs)`, () => {
    const { filter } = compileFilter('all', { mode: 'deny', fields: DENY_CANDIDATES });
    const denied = deniedOf(DENY_CANDIDATES, []);
    const foldedDenied = DENY_CANDIDATES.map((d) => JSON.stringify(fold(d)));
    fc.assert(
      fc.property(treeArb, (tree) => {
        const text = toJson(tree);
        const input = JSON.parse(text) as unknown;
        const out = JSON.parse(JSON.stringify(filter!.apply(JSON.parse(text), new Map(), MAX_DEPTH))) as unknown;
        const outLeaves = leaves(out);
        for (const [path, v] of leaves(input)) {
          // path segments are `.<JSON string>`: a path passes a denied key when a segment folds to a denied name
          const passesDenied = foldedDenied.some((d) => fold(path).includes(`.${d}`));
          if (!passesDenied) expect(outLeaves.get(path), path).toEqual(v);
          else expect(outLeaves.has(path), path).toBe(false);
        }
        expect(deniedOccurrences(out, denied)).toEqual([]);
      }),
      { numRuns: NUM_RUNS },
    );
    recordGenerated(NUM_RUNS);
  });

  it('refuses every answer that would pass on a number beyond ±2^53, wherever it sits (1,000 runs)', () => {
    const { filter } = compileFilter('n', { mode: 'deny', fields: ['zzz'] });
    fc.assert(
      fc.property(treeArb, fc.constantFrom('9007199254740993', '-1e400', '1e21', '12345678901234567890'), fc.nat(3), (tree, big, where) => {
        const text = [`{"k":${toJson(tree)},"big":${big}}`, `[${toJson(tree)},${big}]`, `{"a":{"b":[${big}]},"k":${toJson(tree)}}`, big][where]!;
        expect(() => filter!.apply(JSON.parse(text), new Map(), 64)).toThrow(FilterRejection);
      }),
      { numRuns: 1_000 },
    );
    recordGenerated(1_000);
  });

  it('refuses exactly the trees nested deeper than maxDepth (1,200 runs)', () => {
    const depthOf = (v: unknown): number => (v === null || typeof v !== 'object' ? 0 : 1 + Math.max(0, ...Object.values(v as object).map(depthOf)));
    const { filter } = compileFilter('d', { mode: 'deny', fields: ['zzz'] });
    fc.assert(
      fc.property(treeArb, fc.integer({ min: 1, max: 6 }), (tree, max) => {
        const value = JSON.parse(toJson(tree)) as unknown;
        const deep = depthOf(value) > max;
        let threw = false;
        try {
          filter!.apply(value, new Map(), max);
        } catch (err) {
          expect(err).toBeInstanceOf(FilterRejection);
          threw = true;
        }
        expect(threw).toBe(deep);
      }),
      { numRuns: 1_200 },
    );
    recordGenerated(1_200);
  });
});
