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
    // and so is one a removal puts together from the pieces around it, whichever origin it is
    ['an origin rebuilt from pieces around another', `{"d":"http:/${ALIAS}/10.1.2.3:8585/x"}`, null],
    ['an origin rebuilt around an escaped one', `{"d":"http:\\/${UP.replaceAll('/', '\\/')}\\/10.1.2.3:8585\\/x"}`, null],
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
    // an origin that stays because a host name goes on after it stands once the origin after it is removed: refused
    expect(hide('{"d":"http://omhttp://om/x"}')).toBeNull();
    expect(hide('{"d":"http://omhttp://om.evil/x"}')).toBe('{"d":"http://omhttp://om.evil/x"}');
  });

  // The whole rule said again on latin1 strings, trying every place rather than only where "http" stood, with every
  // form the compiler makes (escaped slashes, default ports) and a port-less origin: the same answer for generated
  // bodies built from pieces that join into origins.
  it('matches a model of the rule that tries every place, on generated bodies (escaped and port-less forms too)', () => {
    const hostChar = (c: string | undefined) => c !== undefined && /^[0-9A-Za-z._~-]$/.test(c);
    const digit = (c: string | undefined) => c !== undefined && /^[0-9]$/.test(c);
    const model = (compiled: ReturnType<typeof compileOrigins>, text: string): string | null => {
      const forms = compiled.map((o) => ({ text: o.bytes.toString('latin1'), port: o.port }));
      const endAt = (t: string, i: number): number => {
        for (const f of forms) {
          if (!t.startsWith(f.text, i)) continue;
          let end = i + f.text.length;
          if (!f.port && t[end] === ':' && digit(t[end + 1])) {
            for (end += 2; digit(t[end]); end++);
            return end;
          }
          const goesOn = f.port ? digit(t[end]) : hostChar(t[end]) && !(t[end] === '.' && !hostChar(t[end + 1]));
          if (!goesOn) return end;
        }
        return -1;
      };
      let out = '';
      for (let i = 0; i < text.length; ) {
        const end = endAt(text, i);
        if (end === -1) out += text[i++];
        else {
          if (!(text[end] === '/' || (text[end] === '\\' && text[end + 1] === '/'))) out += '/';
          i = end;
        }
      }
      if (out !== text && [...out].some((_c, i) => endAt(out, i) !== -1)) return null;
      return out;
    };
    const sets = [origins, compileOrigins('http://om/', ['https://om.example'])];
    const piece = fc.constantFrom(UP, ALIAS, UP.replaceAll('/', '\\/'), ALIAS.replaceAll('/', '\\/'), 'http://om', 'http:\\/\\/om', 'https://om.example', 'http://om:80', ':8080', 'http:', 'http:/', 'http:\\/', 'http', 'https:/', '\\/', '\\', '/', '10.1.2.3:8585', ':8585', '1', 'x', '.', '"', ' ', 'om');
    recordCases(CLASS.responseLeaks, 1);
    recordGenerated(4000);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1 }), fc.array(piece, { maxLength: 12 }), (which, xs) => {
        const text = xs.join('');
        const got = hideOrigins(Buffer.from(text, 'latin1'), sets[which]!);
        expect(got === null ? null : got.toString('latin1')).toBe(model(sets[which]!, text));
      }),
      { numRuns: 4000 },
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

  // the same change, said on the parsed value: in every string, from left to right, at each place an origin stands
  // the longest one that ends an address goes (before "/" without a trace, before anything else it becomes "/"); an
  // origin standing where an address ends in what is left means the answer is refused (JSON.stringify never escapes
  // "/", so the bytes and the strings agree). Every place is tried here, not only where "http" stood before.
  const ORIGINS = [UP, ALIAS].sort((a, b) => b.length - a.length);
  // both origins here end in a port: only a digit continues the address
  const continues = (c: string | undefined) => c !== undefined && /^[0-9]$/.test(c);
  const endsHere = (s: string, i: number): string | undefined => ORIGINS.find((o) => s.startsWith(o, i) && !continues(s[i + o.length]));
  const onString = (s: string): string => {
    let out = '';
    for (let i = 0; i < s.length; ) {
      const o = endsHere(s, i);
      if (o === undefined) out += s[i++];
      else {
        i += o.length;
        if (s[i] !== '/') out += '/';
      }
    }
    return out;
  };
  const standing = (s: string) => [...s].some((_c, i) => endsHere(s, i) !== undefined);
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
