// The deny filter's raw-bytes scan (src/filters/scan.ts) decides when the upstream's bytes may be sent as they are.
// It may only ever be too cautious: whenever it says "unchanged", JSON.parse must read the bytes, the filter must
// remove nothing and refuse nothing, and no object may hold a key twice. Checked here on attack tables, on random
// trees written out in many textual forms (escaped keys, whitespace, number spellings, duplicates) and on random
// mutations of valid JSON; and, so that the fast path is not vacuous, that plain answers do take it.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileFilter, type CompiledFilter } from '../../src/filters/compile.js';
import { MAX_NUMBER_CHARS, MAX_SCANNED_KEYS } from '../../src/filters/scan.js';
import { OPENMETADATA_DATA_FIELDS } from '../../src/filters/builtin.js';
import { recordGenerated } from '../security/summary.js';

const NUM_RUNS = 3_000;

function deny(...fields: string[]): CompiledFilter {
  const { filter, errors } = compileFilter('t', { mode: 'deny', fields });
  expect(errors).toEqual([]);
  return filter!;
}

const f = deny('sampleData', 'profile', 'sql', 'columns.args', 'dataSource.uri', '_sec', '$ref', '@type', '#tag', '-x');
const unchanged = (text: string, maxDepth = 64, filter = f): boolean => filter.unchanged(Buffer.from(text, 'utf8'), maxDepth);

/** What the full way does with the text: parse, filter; `removed` entries, or the error. */
function fullWay(text: string, maxDepth = 64, filter = f): { ok: true; removed: number; out: unknown } | { ok: false } {
  try {
    const removed = new Map<string, number>();
    const out = filter.apply(JSON.parse(text), removed, maxDepth);
    return { ok: true, removed: removed.size, out };
  } catch {
    return { ok: false };
  }
}

/** The soundness property every "unchanged" must satisfy. */
function expectSound(text: string, maxDepth = 64, filter = f): void {
  if (!unchanged(text, maxDepth, filter)) return;
  const r = fullWay(text, maxDepth, filter);
  expect(r, text).toEqual(expect.objectContaining({ ok: true, removed: 0 }));
}

describe('raw-bytes scan: what it passes', () => {
  it.each([
    ['an object', '{"id":"c019434d","name":"customers","version":0.3,"n":42,"ok":true,"x":null}'],
    ['whitespace of all four kinds', ' \t\r\n{ "a" : [ 1 , 2 ] ,\n"b":{}}\n '],
    ['escapes in values', '{"d":"line\\nbreak \\"quoted\\" \\u00e9 \\/ \\\\ \\b\\f\\r\\t"}'],
    ['non-ASCII in values', '{"d":"café ☃ 😀"}'],
    ['a top-level array and scalars', '[1,"a",true,false,null,[],{}]'],
    ['a top-level string', '"sampleData"'],
    ['numbers of every JSON form within ±2^53', '[0,-0,1,-1,0.5,-0.5,1e2,1E+2,1e-2,123456789012345,9007199254740991,-9007199254740991,1.5e15,1e-400]'],
    ['denied names as values, not keys', '{"note":"sampleData","list":["profile","sql"]}'],
    ['a child entry outside its parent', '{"args":1,"uri":"x","columns":{"name":"a"},"dataSource":{"name":"b"}}'],
    ['keys that only look like denied ones', '{"sampleDataX":1,"sample_data":2,"profiles":3,"sq":4}'],
    ['the same key in different objects', '{"a":{"k":1},"b":{"k":2},"c":[{"k":3},{"k":4}]}'],
  ])('passes %s', (_d, text) => {
    expect(unchanged(text)).toBe(true);
    expectSound(text);
  });

  it('passes nesting up to maxDepth, counted as the filter counts', () => {
    expect(unchanged('[[[1]]]', 3)).toBe(true);
    expect(unchanged('[[[1]]]', 2)).toBe(false);
    expect(unchanged('{"a":{"b":{}}}', 3)).toBe(true);
    expect(unchanged('{"a":{"b":{}}}', 2)).toBe(false);
  });
});

describe('raw-bytes scan: what goes the full way', () => {
  it.each([
    ['a denied key', '{"sampleData":{"rows":[[1]]}}'],
    ['a denied key in another case', '{"SAMPLEDATA":1}'],
    ['a denied key deep in an array', '[{"a":[{"b":{"profile":1}}]}]'],
    ['a child entry under its parent', '{"dataSource":{"uri":"jdbc:x"}}'],
    ['a child entry under its parent, through an array', '{"columns":[{"args":1}]}'],
    // the array's key is the parent of every element, not only the first (a hand mutation of the scan that dropped
    // it after the first comma passed every other case)
    ['a child entry in a later element of the array', '{"columns":[{"name":"a"},{"args":1}]}'],
    ['a child entry after a scalar and an array element', '{"columns":[1,"x",[2],{"args":1}]}'],
    ['a child entry in a later element of a nested array', '{"columns":[[{"a":1}],[{"b":1},{"args":1}]]}'],
    ['a child entry after a sibling object closed', '{"dataSource":{"x":{"y":{}},"uri":"jdbc:x"}}'],
    ['a child entry under its parent in another case', '{"DataSource":{"URI":"jdbc:x"}}'],
    ['an escaped key spelling a denied one', '{"\\u0073ampleData":1}'],
    ['any escaped key', '{"\\u0061":1}'],
    ['an escaped quote in a key', '{"a\\"b":1}'],
    ['a non-ASCII key', '{"naïve":1}'],
    ['a key whose lower case is ASCII (KELVIN SIGN)', '{"\u212Aey":1}'],
    ['a duplicate key', '{"a":1,"a":2}'],
    ['a duplicate key hiding a denied one (first-wins clients)', '{"x":{"sampleData":1},"x":{}}'],
    ['a duplicate key, nested', '[{"k":{"z":1,"y":2,"z":3}}]'],
    ['an integer beyond 2^53', '{"n":9007199254740993}'],
    ['a negative integer beyond 2^53', '[-9007199254740993]'],
    ['a 16-digit integer beyond 2^53', '[9999999999999999]'],
    ['a number past the double range', '[1e400]'],
    ['a big number in exponent form', '[1e16]'],
    ['a number of more than 64 characters (sent in its shortest form instead)', `[0.${'0'.repeat(63)}1]`],
    ['a large double (the filter refuses every magnitude past 2^53)', '[1.5e300]'],
  ])('%s', (_d, text) => {
    expect(unchanged(text)).toBe(false);
  });

  it.each([
    ['empty', ''],
    ['only whitespace', '  \n'],
    ['two values', '1 2'],
    ['a trailing comma in an object', '{"a":1,}'],
    ['a trailing comma in an array', '[1,]'],
    ['a missing comma', '[1 2]'],
    ['a missing colon', '{"a" 1}'],
    ['an unquoted key', '{a:1}'],
    ['a single-quoted string', "['a']"],
    ['a comment', '[1/*x*/]'],
    ['a leading zero', '[01]'],
    ['a leading plus', '[+1]'],
    ['a bare minus', '[-]'],
    ['a bare dot', '[.5]'],
    ['a trailing dot', '[1.]'],
    ['an empty exponent', '[1e]'],
    ['an exponent without digits', '[1e+]'],
    ['NaN', '[NaN]'],
    ['Infinity', '[Infinity]'],
    ['hex', '[0x10]'],
    ['a truncated literal', '[tru]'],
    ['a longer literal', '[nulll]'],
    ['a capitalised literal', '[True]'],
    ['an unterminated string', '["abc'],
    ['an unterminated object', '{"a":1'],
    ['an unterminated array', '[1,2'],
    ['a raw control character in a string', '["a\tb"]'],
    ['a raw newline in a string', '["a\nb"]'],
    ['a raw NUL in a string', '["a\u0000b"]'],
    ['an unknown escape', '["\\x41"]'],
    ['a short \\u escape', '["\\u12"]'],
    ['a \\u escape with a non-hex digit', '["\\u12g4"]'],
    ['a vertical tab as whitespace', '\u000b[1]'],
    ['a form feed as whitespace', '\f[1]'],
    ['a non-breaking space as whitespace', '\u00a0[1]'],
    ['a closing bracket of the wrong kind', '[1}'],
    ['a stray closing bracket', '[1]]'],
    ['a key that is not a string', '{1:1}'],
  ])('invalid JSON: %s', (_d, text) => {
    expect(unchanged(text)).toBe(false);
    // and the full way refuses it too
    expect(fullWay(text).ok).toBe(false);
  });

  it(`an object with more than ${MAX_SCANNED_KEYS} keys goes the full way (and is filtered there as before)`, () => {
    const keys = (n: number) => `{${Array.from({ length: n }, (_, k) => `"k${k}":${k}`).join(',')}}`;
    expect(unchanged(keys(MAX_SCANNED_KEYS))).toBe(true);
    expect(unchanged(keys(MAX_SCANNED_KEYS + 1))).toBe(false);
    expect(fullWay(keys(MAX_SCANNED_KEYS + 1))).toEqual(expect.objectContaining({ ok: true, removed: 0 }));
  });

  it('a duplicate key is found at the edge of the key limit, and entries of every first-character class are denied', () => {
    const keys = Array.from({ length: MAX_SCANNED_KEYS - 1 }, (_, k) => `"k${k}":${k}`);
    expect(unchanged(`{${keys.join(',')},"k0":1}`)).toBe(false);
    expect(unchanged(`{${keys.join(',')},"k64":1}`)).toBe(true);
    for (const k of ['_sec', '$REF', '@Type', '#TAG', '-X']) expect(unchanged(`{"a":1,"${k}":2}`), k).toBe(false);
  });

  it('a parent entry reaches through nested arrays, and a top-level array has no parent', () => {
    expect(unchanged('{"columns":[[[{"args":1}]]]}')).toBe(false);
    expect(unchanged('[{"args":1}]')).toBe(true);
    expect(fullWay('[{"args":1}]')).toEqual(expect.objectContaining({ ok: true, removed: 0 }));
  });

  it('never throws, even on nesting far past the limit, and a failed scan leaves no state behind', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(() => unchanged(deep, 1000)).not.toThrow();
    expect(unchanged(deep, 1000)).toBe(false);
    expect(unchanged('{"a":{"b":[1,{"a":2}]}}')).toBe(true);
    expect(unchanged('{"a":{"sql":1}}')).toBe(false);
    expect(unchanged('{"a":1,"b":{"c":2}}')).toBe(true);
  });

  // the duplicate check compares a key with the ones before it only when a key with its hash (length, first and last
  // byte) was seen in the same object: keys that all share one hash take the full comparison every time
  it('a duplicate is found among keys that share the quick check\'s hash, and keys that only share it pass', () => {
    const same = Array.from({ length: 40 }, (_, k) => `a${String(k).padStart(2, '0')}z`);
    expect(unchanged(`{${same.map((k, i) => `"${k}":${i}`).join(',')}}`)).toBe(true);
    for (const dup of [same[0]!, same[20]!, same[39]!]) expect(unchanged(`{${same.map((k, i) => `"${k}":${i}`).join(',')},"${dup}":1}`), dup).toBe(false);
    // the hash bits of an inner object are its own, and an outer object's are intact after it
    expect(unchanged(`{"a00z":{${same.map((k, i) => `"${k}":${i}`).join(',')}},"a01z":1}`)).toBe(true);
    expect(unchanged(`{"a00z":{"a01z":1},"a02z":2,"a00z":3}`)).toBe(false);
    expect(unchanged('{"":1,"x":{"":2},"":3}')).toBe(false);
    expect(unchanged('{"":1,"x":{"":2}}')).toBe(true);
  });

  it('keys of enclosing objects do not count as duplicates of nested ones, and the key stack is restored', () => {
    expect(unchanged('{"a":{"a":{"a":1}},"b":[{"a":1,"b":2}],"c":3}')).toBe(true);
    expect(unchanged('{"a":{"b":1},"b":2}')).toBe(true);
    expect(unchanged('{"a":{"b":1},"c":2,"a":3}')).toBe(false);
  });

  it('passes a realistic OpenMetadata table with the built-in deny list, and not once a data field is added', () => {
    const om = deny(...OPENMETADATA_DATA_FIELDS);
    const table = { id: 'c019434d-4146-4bc8-9c53-d0c56cdd7ac9', name: 'customers', fullyQualifiedName: 'mysql.shop.sales.customers', columns: [{ name: 'email', dataType: 'VARCHAR', dataLength: 255, tags: [{ tagFQN: 'PII.Sensitive' }] }], usageSummary: { dailyStats: { count: 42, percentileRank: 71.5 } } };
    expect(unchanged(JSON.stringify(table), 64, om)).toBe(true);
    expect(unchanged(JSON.stringify({ ...table, sampleData: { rows: [['a@example.org']] } }), 64, om)).toBe(false);
  });

  it('an allow filter never passes bytes as they are', () => {
    const { filter } = compileFilter('a', { mode: 'allow', fields: ['name'] });
    expect(filter!.unchanged(Buffer.from('{"name":"x"}'), 64)).toBe(false);
  });
});

// ---- properties ----

type Tree = { t: 'obj'; entries: Array<[string, Tree]> } | { t: 'arr'; items: Tree[] } | { t: 'str'; v: string } | { t: 'num'; text: string } | { t: 'lit'; v: 'true' | 'false' | 'null' };

const KEYS = ['id', 'name', 'a', 'b', 'sampleData', 'SampleDATA', 'profile', 'sql', 'args', 'uri', 'columns', 'dataSource', 'sampleDataX', 'sample', '__proto__', 'naïve', '\u212Aey', 'k\u0000', '', '\u017fql', 'prof\u0131le', '\u0130d', '~', '\u007f', 'k'.repeat(40), '_sec', '_SEC', '$ref', '@type', '#tag', '-x', '-X'];
/** Number spellings, including ones JSON.parse reads inexactly and ones the filter refuses. */
const NUMBER_TEXTS = ['0', '-0', '1', '-1', '0.5', '1e2', '1E-2', '1.50', '123456789012345', '9007199254740991', '9007199254740992', '9007199254740993', '-9007199254740993', '1e16', '1e400', '1e-400', '0.1e1', '9007199254740990.5', '9007199254740991.5', '1234567890123456.7', '123456789012345.678', '1e308', '1e-324', '1E+999', `0.${'0'.repeat(400)}1`, `-${'9'.repeat(30)}`];

const treeArb = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'medium', maxDepth: 7, withCrossShrink: true },
    { arbitrary: fc.oneof(fc.constantFrom('sampleData', 'x', '', 'é', '"', '\\', '\n'), fc.string({ maxLength: 5 })).map((v): Tree => ({ t: 'str', v })), weight: 1 },
    { arbitrary: fc.oneof(fc.constantFrom(...NUMBER_TEXTS), fc.integer().map(String), fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d))).map((text): Tree => ({ t: 'num', text })), weight: 1 },
    { arbitrary: fc.constantFrom('true', 'false', 'null').map((v): Tree => ({ t: 'lit', v: v as 'true' | 'false' | 'null' })), weight: 1 },
    { arbitrary: fc.array(fc.tuple(fc.oneof({ arbitrary: fc.constantFrom(...KEYS), weight: 5 }, { arbitrary: fc.string({ maxLength: 3 }), weight: 1 }), tie('tree')), { maxLength: 5 }).map((entries): Tree => ({ t: 'obj', entries })), weight: 4 },
    { arbitrary: fc.array(tie('tree'), { maxLength: 4 }).map((items): Tree => ({ t: 'arr', items })), weight: 2 },
  ),
})).tree;

/** How a tree is written out: whitespace between tokens, keys escaped in \u form. */
interface Style {
  ws: string;
  escapeKeys: boolean;
}

const escapeAll = (s: string): string => `"${[...s].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"`;

function write(tree: Tree, st: Style): string {
  const w = st.ws;
  switch (tree.t) {
    case 'obj':
      return `{${w}${tree.entries.map(([k, v]) => `${st.escapeKeys && k.length > 0 ? escapeAll(k) : JSON.stringify(k)}${w}:${w}${write(v, st)}`).join(`${w},${w}`)}${w}}`;
    case 'arr':
      return `[${w}${tree.items.map((t) => write(t, st)).join(`${w},${w}`)}${w}]`;
    case 'str':
      return JSON.stringify(tree.v);
    case 'num':
      return tree.text;
    case 'lit':
      return tree.v;
  }
}

/**
 * Whether some object of a JSON text the scan passed holds a key twice: a small reader of its own, for texts whose
 * keys are plain ASCII without escapes (what the scan passes); strings are skipped by their escapes.
 */
function duplicateKeyIn(text: string): boolean {
  let i = 0;
  const ws = () => {
    while (' \t\r\n'.includes(text[i] ?? 'x')) i++;
  };
  const str = (): string => {
    const start = ++i;
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    return text.slice(start, i++);
  };
  const value = (): boolean => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      for (;;) {
        ws();
        if (text[i] === '}') return i++, false;
        if (text[i] === ',') i++, ws();
        const k = str();
        if (seen.has(k)) return true;
        seen.add(k);
        ws();
        i++; // ':'
        if (value()) return true;
      }
    }
    if (c === '[') {
      i++;
      for (;;) {
        ws();
        if (text[i] === ']') return i++, false;
        if (text[i] === ',') i++;
        if (value()) return true;
      }
    }
    if (c === '"') return str(), false;
    while (i < text.length && !',]} \t\r\n'.includes(text[i]!)) i++;
    return false;
  };
  return value();
}

/** Whether some object of the tree holds a key twice (by the string JSON.parse makes). */
function hasDuplicate(tree: Tree): boolean {
  if (tree.t === 'arr') return tree.items.some(hasDuplicate);
  if (tree.t !== 'obj') return false;
  const keys = tree.entries.map(([k]) => k);
  return new Set(keys).size !== keys.length || tree.entries.some(([, v]) => hasDuplicate(v));
}

/** Whether the tree is one the scan must pass: plain keys, no duplicate, nothing denied, exact numbers. */
function plainly(tree: Tree, parent: string | null, depth: number, maxDepth: number): boolean {
  switch (tree.t) {
    case 'obj': {
      if (depth + 1 > maxDepth || tree.entries.length > MAX_SCANNED_KEYS) return false;
      const keys = tree.entries.map(([k]) => k);
      if (new Set(keys).size !== keys.length) return false;
      return tree.entries.every(([k, v]) => {
        const lower = k.toLowerCase();
        const deniedHere = ['sampledata', 'profile', 'sql', '_sec', '$ref', '@type', '#tag', '-x'].includes(lower) || (lower === 'args' && parent?.toLowerCase() === 'columns') || (lower === 'uri' && parent?.toLowerCase() === 'datasource');
        return /^[\x20-\x7e]*$/.test(k) && !k.includes('"') && !k.includes('\\') && !deniedHere && plainly(v, k, depth + 1, maxDepth);
      });
    }
    case 'arr':
      return depth + 1 <= maxDepth && tree.items.every((t) => plainly(t, parent, depth + 1, maxDepth));
    case 'num':
      return Math.abs(Number(tree.text)) <= Number.MAX_SAFE_INTEGER && tree.text.length <= MAX_NUMBER_CHARS;
    default:
      return true;
  }
}

describe('raw-bytes scan: properties', () => {
  it('never says "unchanged" when the full way would remove, refuse or read a duplicate; and says it for plain trees', () => {
    let passed = 0;
    fc.assert(
      fc.property(treeArb, fc.constantFrom('', ' ', '\n\t', '\r\n  '), fc.boolean(), fc.integer({ min: 1, max: 8 }), (tree, ws, escapeKeys, maxDepth) => {
        const text = write(tree, { ws, escapeKeys });
        const said = unchanged(text, maxDepth);
        if (said) {
          passed++;
          expectSound(text, maxDepth);
          expect(hasDuplicate(tree), text).toBe(false);
        }
        // completeness: a plainly metadata answer, written without escaped keys, takes the fast path
        const hasKeys = JSON.stringify(tree).includes('"entries":[[');
        if (!(escapeKeys && hasKeys) && plainly(tree, null, 0, maxDepth)) expect(said, text).toBe(true);
      }),
      { numRuns: NUM_RUNS },
    );
    recordGenerated(NUM_RUNS);
    // not vacuous: a good share of the generated answers took the fast path
    expect(passed).toBeGreaterThan(NUM_RUNS / 10);
  });

  it('never passes a mutation of valid JSON that JSON.parse refuses or the filter would change', () => {
    const alphabet = ['{', '}', '[', ']', ',', ':', '"', '\\', 'u', '0', '1', 'e', '-', '.', ' ', '\n', '\t', 'a', 't', 'n', 'é', '\u0000', '\u001f', '\u2028', 'sampleData', '"sampleData":1,', '"a":1,'];
    let passed = 0;
    fc.assert(
      fc.property(
        treeArb,
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('insert', 'delete', 'replace'), fc.constantFrom(...alphabet)), { minLength: 1, maxLength: 3 }),
        (tree, edits) => {
          let text = write(tree, { ws: '', escapeKeys: false });
          for (const [at, op, s] of edits) {
            const p = text.length === 0 ? 0 : at % (text.length + (op === 'insert' ? 1 : 0));
            if (op === 'insert') text = text.slice(0, p) + s + text.slice(p);
            else if (op === 'delete') text = text.slice(0, p) + text.slice(p + 1);
            else text = text.slice(0, p) + s + text.slice(p + 1);
          }
          if (unchanged(text)) {
            passed++;
            expectSound(text);
            expect(duplicateKeyIn(text), text).toBe(false);
          }
        },
      ),
      { numRuns: NUM_RUNS },
    );
    recordGenerated(NUM_RUNS);
    expect(passed).toBeGreaterThan(0);
  });
});

// ---- the four-bytes-at-a-time path through strings ----

/**
 * What the scan must answer for an object whose keys and values are written between quotes as they are (no quote of
 * their own; escapes, control bytes, DEL and non-ASCII are left raw): exactly "JSON.parse reads it, every key is
 * printable ASCII without an escape, and no key comes twice" — none of the keys generated below is denied.
 */
function expectedForRaw(text: string, rawKeys: string[]): boolean {
  try {
    JSON.parse(text);
  } catch {
    return false;
  }
  return rawKeys.every((k) => /^[\x20-\x7e]*$/.test(k) && !k.includes('\\')) && new Set(rawKeys).size === rawKeys.length;
}

describe('raw-bytes scan: strings read four bytes at a time', () => {
  /** Characters the word test must stop at or let through, each at every offset of strings of every length to 13. */
  const SPECIAL: Array<[string, string]> = [
    ['NUL', '\u0000'],
    ['a control byte', '\u0001'],
    ['the last control byte', '\u001f'],
    ['a raw tab', '\t'],
    ['a raw newline', '\n'],
    ['a space', ' '],
    ['"!"', '!'],
    ['"#"', '#'],
    ['"["', '['],
    ['"]"', ']'],
    ['"~"', '~'],
    ['DEL', '\u007f'],
    ['a two-byte character', 'é'],
    ['a four-byte character', '😀'],
    ['an escaped quote', '\\"'],
    ['an escaped backslash', '\\\\'],
    ['an escaped newline', '\\n'],
    ['a \\u escape', '\\u0041'],
    ['an unknown escape', '\\x'],
    ['a short \\u escape', '\\u00"'],
  ];
  const placements = function* (): Generator<[number, number]> {
    for (let len = 0; len <= 13; len++) for (let at = 0; at <= len; at++) yield [len, at];
  };

  it.each(SPECIAL)('a value with %s at every offset: exactly what JSON.parse reads', (_d, ch) => {
    for (const [len, at] of placements()) {
      const v = 'v'.repeat(at) + ch + 'v'.repeat(len - at);
      // inside an object, as the last bytes of the body (the word loop meets the end), and after an odd prefix
      for (const text of [`{"k":"${v}","z":1}`, `"${v}"`, `["${v}"]`, `[1,"${v}"]`, `{"ab":"${v}"}`]) {
        expect(unchanged(text), JSON.stringify(text)).toBe(expectedForRaw(text, text.startsWith('{') ? [text.slice(2, text.indexOf('"', 2))] : []));
      }
    }
  });

  it.each(SPECIAL)('a key with %s at every offset: only printable ASCII without escapes passes', (_d, ch) => {
    for (const [len, at] of placements()) {
      const k = 'k'.repeat(at) + ch + 'k'.repeat(len - at);
      for (const text of [`{"${k}":1}`, `[{"a":2,"${k}":"x"}]`, `{"${k}":{}}`]) {
        const keys = text.startsWith('[') ? ['a', k] : [k];
        expect(unchanged(text), JSON.stringify(text)).toBe(expectedForRaw(text, keys));
      }
    }
  });

  it('keys longer than a word are compared whole: duplicates, near-duplicates and denied names', () => {
    expect(unchanged('{"abcdefghij":1,"abcdefghij":2}')).toBe(false);
    expect(unchanged('{"abcdefghij":1,"abcdefghik":2}')).toBe(true);
    expect(unchanged('{"abcdefghij":1,"bbcdefghij":2}')).toBe(true);
    expect(unchanged('{"abcdefgh":1,"abcdefghij":2,"abcdefgh":3}')).toBe(false);
    expect(unchanged('{"x":1,"sampleData":2}')).toBe(false);
    expect(unchanged('{"x":1,"SAMPLEDATA":2}')).toBe(false);
    expect(unchanged('{"x":1,"sampleDatA_":2}')).toBe(true);
  });

  it('matches the reference on random objects of raw keys and values around the word boundaries', () => {
    const units = ['a', 'k', ' ', '!', '#', '[', ']', '~', '\u007f', 'é', '😀', '\u0000', '\u001f', '\t', '\n', '\\"', '\\\\', '\\n', '\\/', '\\u0041', '\\u00', '\\x', '\\'];
    const raw = fc.array(fc.oneof({ arbitrary: fc.constantFrom('a', 'k'), weight: 6 }, { arbitrary: fc.constantFrom(...units), weight: 1 }), { maxLength: 24 }).map((u) => u.join(''));
    let passed = 0;
    fc.assert(
      fc.property(fc.array(fc.tuple(raw, raw), { maxLength: 6 }), fc.constantFrom('', ' ', '[', '[0,'), (entries, prefix) => {
        const body = `{${entries.map(([k, v]) => `"${k}":"${v}"`).join(',')}}`;
        const text = `${prefix}${body}${prefix.startsWith('[') ? ']' : ''}`;
        const expected = expectedForRaw(text, entries.map(([k]) => k));
        const said = unchanged(text);
        if (said) passed++;
        expect(said, JSON.stringify(text)).toBe(expected);
      }),
      { numRuns: NUM_RUNS },
    );
    recordGenerated(NUM_RUNS);
    expect(passed).toBeGreaterThan(NUM_RUNS / 20);
  });
});
