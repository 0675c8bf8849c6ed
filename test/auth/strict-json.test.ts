// findKeyProblem: duplicate and "__proto__" keys in raw JSON text, which JSON.parse silently accepts.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findKeyProblem } from '../../src/auth/strict-json.js';
import { recordGenerated } from '../security/summary.js';

const TABLE: Array<{ name: string; json: string; problem: RegExp | null }> = [
  { name: 'plain object', json: '{"a":1,"b":"x"}', problem: null },
  { name: 'same key in sibling objects', json: '{"a":{"k":1},"b":{"k":2}}', problem: null },
  { name: 'same key at two depths', json: '{"k":{"k":{"k":1}}}', problem: null },
  { name: 'objects inside an array', json: '[{"k":1},{"k":2}]', problem: null },
  { name: 'key-like text inside a string value', json: '{"a":"\\"a\\":1","b":"{\\"a\\":2}"}', problem: null },
  { name: 'escaped quote and backslash in keys', json: '{"a\\"":1,"a\\\\":2,"a":3}', problem: null },
  { name: 'whitespace before the colon', json: '{ "a" : 1 , "b" :\n2 }', problem: null },
  { name: '"constructor" and "prototype" keys are harmless own properties', json: '{"constructor":1,"prototype":2}', problem: null },
  { name: 'duplicate top-level key', json: '{"nationality":"US","nationality":"NL"}', problem: /"nationality" appears twice/ },
  { name: 'duplicate spelled with a \\u escape', json: '{"nationality":"US","n\\u0061tionality":"NL"}', problem: /"nationality" appears twice/ },
  { name: 'duplicate spelled with an upper-case \\u escape', json: '{"NL":1,"\\u004EL":2}', problem: /appears twice/ },
  { name: 'duplicate with whitespace before the colon', json: '{"a":1,"a" :2}', problem: /"a" appears twice/ },
  { name: 'duplicate in a nested object', json: '{"x":{"a":1,"a":2}}', problem: /"a" appears twice/ },
  { name: 'duplicate inside an array element', json: '{"x":[{"a":1,"a":2}]}', problem: /"a" appears twice/ },
  { name: 'duplicate after a nested object closes', json: '{"a":{"b":1},"a":2}', problem: /"a" appears twice/ },
  { name: 'empty key twice', json: '{"":1,"":2}', problem: /appears twice/ },
  { name: '__proto__ key', json: '{"__proto__":{"nationality":"NL"}}', problem: /__proto__/ },
  { name: '__proto__ spelled with escapes', json: '{"__pr\\u006fto__":{}}', problem: /__proto__/ },
  { name: 'nested __proto__', json: '{"a":[{"__proto__":null}]}', problem: /__proto__/ },
  { name: 'unterminated string', json: '{"a":"x', problem: /unterminated/ },
  { name: 'mismatched brackets', json: '{"a":[1}', problem: /unbalanced/ },
  { name: 'unclosed object', json: '{"a":1', problem: /unbalanced/ },
  { name: 'extra closing bracket', json: '{}}', problem: /unbalanced/ },
  { name: 'a key outside any object', json: '["a":1]', problem: /outside an object/ },
];

describe('findKeyProblem — table', () => {
  it.each(TABLE)('$name', ({ json, problem }) => {
    const p = findKeyProblem(json);
    if (problem === null) expect(p).toBeNull();
    else expect(p).toMatch(problem);
  });
});

describe('findKeyProblem — properties', () => {
  it('JSON.stringify output of any parsed JSON value has no problem (JSON.parse cannot produce duplicates)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        // a generated "__proto__" key would be a real problem; JSON.stringify of a parsed value can carry one
        const text = JSON.stringify(v);
        const hasProto = /"__proto__"\s*:/.test(text);
        expect(findKeyProblem(text) === null).toBe(!hasProto);
      }),
      { numRuns: 2000 },
    );
    recordGenerated(2000);
  });

  it('repeating any key of an object, raw or \\u-escaped, is always found', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== '__proto__'), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 6 }),
        fc.nat(),
        fc.boolean(),
        (obj, pick, escape) => {
          const keys = Object.keys(obj);
          const key = keys[pick % keys.length]!;
          const spelled = escape ? `"${Array.from({ length: key.length }, (_, i) => `\\u${key.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')}"` : JSON.stringify(key);
          const text = `${JSON.stringify(obj).slice(0, -1)},${spelled}:0}`;
          // a generated value may itself hold a "__proto__" key, which is reported first
          expect(findKeyProblem(text)).toMatch(/appears twice|__proto__/);
        },
      ),
      { numRuns: 2000 },
    );
    recordGenerated(2000);
  });
});
