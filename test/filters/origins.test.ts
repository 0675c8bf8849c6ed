// The platform's address in its answers (hrefs built from the Host the gateway sends): removed byte by byte, and the
// answer stays the same JSON apart from that.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileOrigins, hideOrigins } from '../../src/filters/origins.js';
import { CLASS, recordCases, recordGenerated } from '../security/summary.js';

const UP = 'http://10.1.2.3:8585';
const ALIAS = 'http://openmetadata.internal:8585';
const origins = compileOrigins(`${UP}/`, [ALIAS]);
const run = (text: string) => hideOrigins(Buffer.from(text), origins)?.toString() ?? null;

describe('hideOrigins', () => {
  it('compiles the upstream origin (from its URL) and the configured ones, once each', () => {
    expect(origins.map((o) => o.bytes.toString())).toEqual([ALIAS.replaceAll('/', '\\/'), ALIAS, UP.replaceAll('/', '\\/'), UP]); // longest first
    expect(compileOrigins(`${UP}/`, [UP]).map((o) => o.bytes.toString())).toEqual([UP.replaceAll('/', '\\/'), UP]);
  });

  it('writes the default port out as well, and removes the longer form first', () => {
    const plain = compileOrigins('http://om.internal/', ['https://om.example']).map((o) => o.bytes.toString()).filter((o) => !o.includes('\\'));
    expect(plain).toEqual(['https://om.example:443', 'http://om.internal:80', 'http://om.internal', 'https://om.example']);
    expect(hideOrigins(Buffer.from('{"a":"http://om.internal:80/x","b":"http://om.internal/y"}'), compileOrigins('http://om.internal/', []))?.toString()).toBe('{"a":"/x","b":"/y"}');
  });

  const cases: Array<[string, string, string | null]> = [
    ['an href with a path', `{"href":"${UP}/api/v1/tables/x"}`, '{"href":"/api/v1/tables/x"}'],
    ['the alias the platform writes', `{"href":"${ALIAS}/api/v1/teams/t"}`, '{"href":"/api/v1/teams/t"}'],
    ['the bare origin', `{"u":"${UP}"}`, '{"u":"/"}'],
    ['nested references and arrays', `{"owners":[{"href":"${UP}/a"},{"href":"${ALIAS}/b"}],"service":{"href":"${UP}/c"}}`, '{"owners":[{"href":"/a"},{"href":"/b"}],"service":{"href":"/c"}}'],
    ['inside free text, before a path', `{"description":"see ${UP}/api/v1/x for more"}`, '{"description":"see /api/v1/x for more"}'],
    ['twice in one string', `{"d":"${UP}/a ${UP}/b"}`, '{"d":"/a /b"}'],
    ['in prose, before a comma, a space, a bracket, a query or a fragment', `{"d":"see ${UP}, ${UP} (${UP}) ${UP}?x=1 ${UP}#top"}`, '{"d":"see /, / (/) /?x=1 /#top"}'],
    ['before an escaped slash', `{"d":"${UP}\\/api"}`, '{"d":"\\/api"}'],
    ['before an escaped quote or another escape', `{"d":"${UP}\\"x","e":"${UP}\\n"}`, '{"d":"/\\"x","e":"/\\n"}'],
    ['before a colon or an at sign (another port, userinfo)', `{"d":"${ALIAS}:1/x","e":"${UP}@h"}`, '{"d":"/:1/x","e":"/@h"}'],
    ['another port that starts the same (kept)', `{"d":"${UP}1/x"}`, `{"d":"${UP}1/x"}`],
    ['a longer host that starts the same (kept)', `{"d":"${ALIAS.replace(':8585', '')}.evil/x"}`, `{"d":"${ALIAS.replace(':8585', '')}.evil/x"}`],
    ['after a port, anything but a digit ends the address (a full stop, letters, a dash)', `{"d":"see ${UP}.","e":"${UP}abc","f":"${UP}-x"}`, '{"d":"see /.","e":"/abc","f":"/-x"}'],
    ['written with escaped slashes throughout', `{"d":"http:\\/\\/10.1.2.3:8585\\/api","e":"http:\\/\\/10.1.2.3:8585"}`, '{"d":"\\/api","e":"/"}'],
    ['after an escaped backslash', `{"d":"\\\\${UP}/x"}`, '{"d":"\\\\/x"}'],
    ['as a key', `{"${UP}/k":1}`, '{"/k":1}'],
    ['nothing to hide', '{"href":"/api/v1/x","n":1}', '{"href":"/api/v1/x","n":1}'],
    // a removal that puts the origin back together: refused, not removed again and again
    ['an origin rebuilt by its own removal', `{"d":"http:/${UP}/10.1.2.3:8585/api"}`, null],
    // after a port a letter ends the address: each origin goes on its own
    ['an origin twice in a row', `{"d":"${UP}${UP}/x"}`, '{"d":"//x"}'],
    ['two origins in a row', `{"d":"${ALIAS}${UP}"}`, '{"d":"//"}'],
    ['an origin rebuilt from pieces around another: removed by its own pass after', `{"d":"http:/${ALIAS}/10.1.2.3:8585/x"}`, '{"d":"/x"}'],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    recordCases(CLASS.responseLeaks, 1);
    expect(run(input)).toBe(expected);
    if (expected !== null) expect(() => JSON.parse(run(input)!)).not.toThrow();
  });

  it('a port-less origin: another port on the same host goes with it, a longer host name stays', () => {
    const om = compileOrigins('http://om/', []);
    const hide = (t: string) => hideOrigins(Buffer.from(t), om)?.toString() ?? null;
    expect(hide('{"a":"http://om:8080/x","b":"http://om:80/y","c":"http://om.evil/z","d":"see http://om.","e":"http://om-2/q"}')).toBe('{"a":"/x","b":"/y","c":"http://om.evil/z","d":"see /.","e":"http://om-2/q"}');
  });

  // A body without a backslash is not searched for the escaped forms (ninth session): removing takes bytes out and
  // puts slashes in, so no escaped form can be in it before or after. The same answers as searching for every form.
  it('skipping the escaped forms in a body without a backslash changes no answer (differential, generated bodies)', () => {
    const everyForm = origins.map((o) => ({ ...o, escaped: false }));
    const piece = fc.constantFrom(UP, ALIAS, UP.replaceAll('/', '\\/'), ALIAS.replaceAll('/', '\\/'), 'http:', 'http:/', 'http:\\/', '\\/', '\\', '/', '10.1.2.3:8585', ':8585', '1', 'x', '.', '"', ' ');
    recordCases(CLASS.responseLeaks, 1);
    recordGenerated(3000);
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (xs) => {
        const text = xs.join('');
        const skipped = hideOrigins(Buffer.from(text), origins);
        const searched = hideOrigins(Buffer.from(text), everyForm);
        expect(skipped === null ? null : skipped.toString()).toBe(searched === null ? null : searched.toString());
      }),
      { numRuns: 3000 },
    );
  });

  it('is linear: a body of nothing but the origin again and again is answered at once', () => {
    const body = `{"d":"${`${UP}`.repeat(100_000)}/x","e":"${`http:/${UP}/10.1.2.3:8585/x `.repeat(30_000)}"}`;
    const t = performance.now();
    expect(run(body)).toBeNull();
    expect(run(`{"d":"${`${UP}`.repeat(100_000)}/x"}`)).toBe(`{"d":"${'/'.repeat(100_000)}x"}`);
    // a pass per removal would take minutes here; one pass takes milliseconds (a generous bound, not a benchmark)
    expect(performance.now() - t).toBeLessThan(2_000);
  });

  it('changes only the bytes of the view it is given (the forwarder hands over views of its read buffers)', () => {
    const json = `{"href":"${UP}/a","b":"${ALIAS}"}`;
    const whole = Buffer.from(`HEAD${json}TAIL`);
    const out = hideOrigins(whole.subarray(4, 4 + json.length), origins);
    expect(out?.toString()).toBe('{"href":"/a","b":"/"}');
    expect(whole.subarray(0, 4).toString()).toBe('HEAD');
    expect(whole.subarray(whole.length - 4).toString()).toBe('TAIL');
  });

  it('gives back the same buffer, uncopied, when no origin is in it', () => {
    const body = Buffer.from('{"href":"/api/v1/x"}');
    expect(hideOrigins(body, origins)).toBe(body);
  });

  // the same change, said on the parsed value: in every string, each origin in turn (longest first), an origin before
  // "/" goes, one before anything that cannot continue an address (or at the end) becomes "/", and one still standing
  // where an address ends after that means the answer is refused (JSON.stringify never escapes "/", so the bytes and
  // the strings agree)
  const ORIGINS = [UP, ALIAS].sort((a, b) => b.length - a.length);
  // both origins here end in a port: only a digit continues the address
  const continues = (c: string | undefined) => c !== undefined && /^[0-9]$/.test(c);
  const onString = (s: string): string => {
    let out = s;
    for (const o of ORIGINS) {
      let next = '';
      let from = 0;
      for (let at = out.indexOf(o); at !== -1; at = out.indexOf(o, at + o.length)) {
        const c = out[at + o.length];
        if (continues(c)) continue;
        next += out.slice(from, at) + (c === '/' ? '' : '/');
        from = at + o.length;
      }
      out = next + out.slice(from);
    }
    return out;
  };
  const standing = (s: string) => ORIGINS.some((o) => {
    for (let at = s.indexOf(o); at !== -1; at = s.indexOf(o, at + o.length)) if (!continues(s[at + o.length])) return true;
    return false;
  });
  const strings = (v: unknown): string[] => typeof v === 'string' ? [v] : Array.isArray(v) ? v.flatMap(strings) : v && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => [k, ...strings(x)]) : [];
  const onValue = (v: unknown): unknown => {
    if (typeof v === 'string') return onString(v);
    if (Array.isArray(v)) return v.map(onValue);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [onString(k), onValue(x)]));
    return v;
  };
  const piece = fc.constantFrom(UP, ALIAS, '/', '"', '\\', 'x', '1', '.', ',', ':', `${UP}/`, `${ALIAS}/api`, ':8585', 'http:/', '10.1.2.3:8585', 'é', '\u2028');
  const text = fc.array(piece, { maxLength: 8 }).map((xs) => xs.join(''));
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(text, tie('v'), { maxKeys: 4 })),
  })).v;

  it('on generated answers: refused when an origin would stand, otherwise valid JSON changed exactly as on the strings', () => {
    recordCases(CLASS.responseLeaks, 1);
    recordGenerated(2000);
    fc.assert(
      fc.property(value, (v) => {
        const out = run(JSON.stringify(v));
        const expected = onValue(v);
        if (strings(expected).some(standing)) {
          expect(out).toBeNull();
          return;
        }
        expect(out).not.toBeNull();
        expect(JSON.parse(out!)).toEqual(JSON.parse(JSON.stringify(expected)));
      }),
      { numRuns: 2000 },
    );
  });
});
