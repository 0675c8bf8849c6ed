// The platform's address in its answers (hrefs built from the Host the gateway sends): removed byte by byte, and the
// answer stays the same JSON apart from that.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileOrigins, hideOrigins } from '../../src/filters/origins.js';
import { CLASS, recordCases, recordGenerated } from '../security/summary.js';

const UP = 'http://10.1.2.3:8585';
const ALIAS = 'http://openmetadata.internal:8585';
const origins = compileOrigins(`${UP}/`, [ALIAS]);
const run = (text: string) => hideOrigins(Buffer.from(text), origins).toString();

describe('hideOrigins', () => {
  it('compiles the upstream origin (from its URL) and the configured ones, once each', () => {
    expect(origins.map((o) => o.toString())).toEqual([UP, ALIAS]);
    expect(compileOrigins(`${UP}/`, [UP]).map((o) => o.toString())).toEqual([UP]);
  });

  const cases: Array<[string, string, string]> = [
    ['an href with a path', `{"href":"${UP}/api/v1/tables/x"}`, '{"href":"/api/v1/tables/x"}'],
    ['the alias the platform writes', `{"href":"${ALIAS}/api/v1/teams/t"}`, '{"href":"/api/v1/teams/t"}'],
    ['the bare origin', `{"u":"${UP}"}`, '{"u":"/"}'],
    ['nested references and arrays', `{"owners":[{"href":"${UP}/a"},{"href":"${ALIAS}/b"}],"service":{"href":"${UP}/c"}}`, '{"owners":[{"href":"/a"},{"href":"/b"}],"service":{"href":"/c"}}'],
    ['inside free text, before a path', `{"description":"see ${UP}/api/v1/x for more"}`, '{"description":"see /api/v1/x for more"}'],
    ['twice in one string', `{"d":"${UP}/a ${UP}/b"}`, '{"d":"/a /b"}'],
    ['an origin twice in a row: both go', `{"d":"${UP}${UP}/x","e":"${ALIAS}${UP}"}`, '{"d":"/x","e":"/"}'],
    ['another port that starts the same (kept)', `{"d":"${UP}1/x"}`, `{"d":"${UP}1/x"}`],
    ['another host that starts the same (kept)', `{"d":"${UP.replace(':8585', '')}.evil/x"}`, `{"d":"${UP.replace(':8585', '')}.evil/x"}`],
    ['the origin followed by an escaped quote (kept: not the end of the string)', `{"d":"${UP}\\"x"}`, `{"d":"${UP}\\"x"}`],
    ['after an escaped backslash', `{"d":"\\\\${UP}/x"}`, '{"d":"\\\\/x"}'],
    ['as a key', `{"${UP}/k":1}`, '{"/k":1}'],
    ['nothing to hide', '{"href":"/api/v1/x","n":1}', '{"href":"/api/v1/x","n":1}'],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    recordCases(CLASS.responseLeaks, 1);
    expect(run(input)).toBe(expected);
    expect(() => JSON.parse(run(input))).not.toThrow();
  });

  it('changes only the bytes of the view it is given (the forwarder hands over views of its read buffers)', () => {
    const json = `{"href":"${UP}/a","b":"${ALIAS}"}`;
    const whole = Buffer.from(`HEAD${json}TAIL`);
    const out = hideOrigins(whole.subarray(4, 4 + json.length), origins);
    expect(out.toString()).toBe('{"href":"/a","b":"/"}');
    expect(whole.subarray(0, 4).toString()).toBe('HEAD');
    expect(whole.subarray(whole.length - 4).toString()).toBe('TAIL');
  });

  it('gives back the same buffer, uncopied, when no origin is in it', () => {
    const body = Buffer.from('{"href":"/api/v1/x"}');
    expect(hideOrigins(body, origins)).toBe(body);
  });

  // the same change, said on the parsed value: in every string, an origin before a "/" goes, and one that ends the
  // string becomes "/" (JSON.stringify never escapes "/", so the bytes and the strings agree)
  const onString = (s: string): string => {
    let out = s;
    for (const o of [UP, ALIAS]) {
      const esc = o.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      out = out.replace(new RegExp(`${esc}(?=/)`, 'g'), '').replace(new RegExp(`${esc}$`), '/');
    }
    return out === s ? s : onString(out);
  };
  const onValue = (v: unknown): unknown => {
    if (typeof v === 'string') return onString(v);
    if (Array.isArray(v)) return v.map(onValue);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [onString(k), onValue(x)]));
    return v;
  };
  const piece = fc.constantFrom(UP, ALIAS, '/', '"', '\\', 'x', `${UP}/`, `${ALIAS}/api`, ':8585', 'é', '\u2028');
  const text = fc.array(piece, { maxLength: 8 }).map((xs) => xs.join(''));
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(text, tie('v'), { maxKeys: 4 })),
  })).v;

  it('on generated answers: valid JSON, no origin left before a path or at a string end, every string changed only so', () => {
    recordCases(CLASS.responseLeaks, 1);
    recordGenerated(2000);
    fc.assert(
      fc.property(value, (v) => {
        const out = run(JSON.stringify(v));
        for (const o of [UP, ALIAS]) expect(out.includes(`${o}/`) || out.includes(`${o}"`)).toBe(false);
        expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(onValue(v))));
      }),
      { numRuns: 2000 },
    );
  });
});
