// Property tests: evaluateClaims never throws, and allows exactly when an independent oracle written from the
// policy text (DESIGN §4) allows — for arbitrary JSON and for generators biased towards look-alikes.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ArrayPolicy, PolicyConfig } from '../../src/config/types.js';
import { compilePolicy, evaluateClaims } from '../../src/policy/claims.js';
import { recordGenerated } from '../security/summary.js';

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const NOW_S = NOW / 1000;
const SCALE = ['DEPARTEMENTAAL_VERTROUWELIJK', 'STG_CONFIDENTIEEL', 'STG_GEHEIM', 'STG_ZEER_GEHEIM'];
const RUNS = Number(process.env.METAGATE_PROPERTY_RUNS ?? 6000);

interface Opts {
  arrayPolicy: ArrayPolicy;
  caseInsensitive: boolean;
  acceptRanks: boolean;
}

function compiled(o: Opts) {
  const cfg: PolicyConfig = {
    claims: { subject: 'sub', nationality: 'nationality', clearance: 'clearance', clearanceExpiresAt: 'clearance_expires_at', org: 'org' },
    nationality: { allowed: ['NL'], arrayPolicy: o.arrayPolicy, caseInsensitive: o.caseInsensitive },
    clearance: { scale: SCALE, acceptRanks: o.acceptRanks },
    categories: { catalogue: { minClearance: 'STG_CONFIDENTIEEL' }, lineage: { minClearance: 'STG_GEHEIM' }, usage: { minClearance: 'STG_CONFIDENTIEEL' } },
    orgs: { required: false, allowed: [] },
  };
  return compilePolicy(cfg);
}

// ---------------------------------------------------------------- the oracle (written from the policy, not the code)

/** one country code: exactly NL or NLD; with case folding, the same in any mix of ASCII case */
function oracleCode(v: unknown, ci: boolean): 'allowed' | 'other' | 'malformed' {
  if (typeof v !== 'string') return 'malformed';
  let s = v;
  if (ci) {
    // ASCII-only folding, spelled out by hand rather than with toUpperCase
    let out = '';
    for (const ch of s) {
      const c = ch.charCodeAt(0);
      if (ch.length !== 1) return 'malformed';
      out += c >= 0x61 && c <= 0x7a ? String.fromCharCode(c - 32) : ch;
    }
    s = out;
  }
  if (s === 'NL' || s === 'NLD') return 'allowed';
  if (s.length < 2 || s.length > 3) return 'malformed';
  for (const ch of s) if (ch < 'A' || ch > 'Z') return 'malformed';
  return 'other';
}

function oracleNationality(v: unknown, o: Opts): boolean {
  if (!Array.isArray(v)) return oracleCode(v, o.caseInsensitive) === 'allowed';
  if (o.arrayPolicy === 'reject' || v.length === 0) return false;
  const codes = v.map((x) => oracleCode(x, o.caseInsensitive));
  if (codes.includes('malformed')) return false;
  return o.arrayPolicy === 'any' ? codes.includes('allowed') : codes.every((c) => c === 'allowed');
}

function oracleClearance(v: unknown, o: Opts): boolean {
  if (typeof v === 'string') return SCALE.indexOf(v) !== -1;
  return o.acceptRanks && typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= SCALE.length - 1;
}

const LAST_MS = 253402300800000; // end of 9999-12-31 UTC

function leap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}
function dim(y: number, m: number): number {
  return [31, leap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
}
/** days from 1970-01-01 to y-m-d by counting, so it shares nothing with the implementation's Date use */
function daysFromEpoch(y: number, m: number, d: number): number {
  let days = 0;
  if (y >= 1970) for (let yy = 1970; yy < y; yy++) days += leap(yy) ? 366 : 365;
  else for (let yy = y; yy < 1970; yy++) days -= leap(yy) ? 366 : 365;
  for (let mm = 1; mm < m; mm++) days += dim(y, mm);
  return days + d - 1;
}
const isDigits = (s: string) => s.length > 0 && [...s].every((ch) => ch >= '0' && ch <= '9');

function oracleExpiryMs(v: unknown): number | null {
  const within = (ms: number) => (ms > 0 && ms <= LAST_MS ? ms : null);
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER ? within(v * 1000) : null;
  if (typeof v !== 'string') return null;
  const date = (s: string): [number, number, number] | null => {
    if (s.length !== 10 || s[4] !== '-' || s[7] !== '-') return null;
    const [y, m, d] = [s.slice(0, 4), s.slice(5, 7), s.slice(8, 10)];
    if (!isDigits(y) || !isDigits(m) || !isDigits(d)) return null;
    const [Y, M, D] = [Number(y), Number(m), Number(d)];
    if (M < 1 || M > 12 || D < 1 || D > dim(Y, M)) return null;
    return [Y, M, D];
  };
  if (v.length === 10) {
    const d = date(v);
    return d ? within((daysFromEpoch(...d) + 1) * 86_400_000) : null;
  }
  if (v.length < 20 || v[10] !== 'T') return null;
  const d = date(v.slice(0, 10));
  if (!d) return null;
  const t = v.slice(11, 19);
  if (t[2] !== ':' || t[5] !== ':' || !isDigits(t.slice(0, 2)) || !isDigits(t.slice(3, 5)) || !isDigits(t.slice(6, 8))) return null;
  const [h, mi, se] = [Number(t.slice(0, 2)), Number(t.slice(3, 5)), Number(t.slice(6, 8))];
  if (h > 23 || mi > 59 || se > 59) return null;
  let rest = v.slice(19);
  let frac = 0;
  if (rest.startsWith('.')) {
    let i = 1;
    while (i < rest.length && rest[i]! >= '0' && rest[i]! <= '9') i++;
    const digits = rest.slice(1, i);
    if (digits.length < 1 || digits.length > 9) return null;
    frac = Math.floor(Number(digits.padEnd(9, '0')) / 1e6);
    rest = rest.slice(i);
  }
  let off = 0;
  if (rest === 'Z') off = 0;
  else if (rest.length === 6 && (rest[0] === '+' || rest[0] === '-') && rest[3] === ':' && isDigits(rest.slice(1, 3)) && isDigits(rest.slice(4, 6))) {
    const [oh, om] = [Number(rest.slice(1, 3)), Number(rest.slice(4, 6))];
    if (oh > 23 || om > 59) return null;
    off = (rest[0] === '-' ? -1 : 1) * (oh * 60 + om);
  } else return null;
  return within(daysFromEpoch(...d) * 86_400_000 + ((h * 60 + mi - off) * 60 + se) * 1000 + frac);
}

function oracleAllows(p: { nationality: unknown; clearance: unknown; expiry: unknown }, o: Opts): boolean {
  const exp = oracleExpiryMs(p.expiry);
  return oracleNationality(p.nationality, o) && oracleClearance(p.clearance, o) && exp !== null && exp > NOW;
}

// ---------------------------------------------------------------- generators biased towards the edges

const pad = (n: number, w: number) => String(n).padStart(w, '0');

// each generator gives valid values a heavy weight so that a good share of runs sit right at the allow/deny edge
const nationalityArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom('NL', 'NLD', ['NL'], ['US', 'NLD'], 'nl'), weight: 6 },
  fc.jsonValue(),
  fc.constantFrom('NL', 'NLD', 'nl', 'Nl', 'nLd', 'NLX', 'XNL', ' NL', 'NL ', 'NL,BE', 'NL\u0000', 'ſe', 'ﬁn', 'ＮＬ', 'US', 'USA', 'BE', '', 'N', '528'),
  fc.constantFrom(528, true, false, null, { code: 'NL' }, 0, -1),
  fc.string({ unit: fc.constantFrom('N', 'L', 'D', 'n', 'l', 'd', ' ', 'X', 'ſ', 'ı', '\u0000'), minLength: 0, maxLength: 4 }),
  fc.array(fc.oneof(fc.constantFrom('NL', 'NLD', 'US', 'nl', 'USA', 'BE', 'QQ', 528, null), fc.string({ maxLength: 3 })), { maxLength: 4 }),
);

const clearanceArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.oneof(fc.constantFrom(...SCALE), fc.integer({ min: 0, max: 3 })), weight: 6 },
  fc.jsonValue(),
  fc.constantFrom(...SCALE),
  fc.constantFrom(...SCALE).map((s) => s.toLowerCase()),
  fc.constantFrom(...SCALE).map((s) => ` ${s}`),
  fc.constantFrom(...SCALE).map((s) => `${s} `),
  fc.constantFrom(...SCALE).map((s) => [s]),
  fc.constantFrom('2', ' 2 ', '1e3', '0x2', '02', '2.0', '-1', '10', ' 4 ', 'NaN', 'Infinity', '__proto__', 'constructor'),
  fc.integer({ min: -3, max: 6 }),
  fc.double({ min: -2, max: 5, noNaN: false }),
  fc.integer({ min: 0, max: 3 }).map((n) => [n]),
);

const calendar = fc.record({ y: fc.integer({ min: 1960, max: 10000 }), m: fc.integer({ min: 0, max: 13 }), d: fc.integer({ min: 0, max: 32 }) });
const dateArb = fc.oneof(
  calendar,
  // dates around now, where the boundary is
  fc.integer({ min: -3, max: 3 }).map((k) => {
    const t = new Date(NOW + k * 86_400_000);
    return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
  }),
);
const dateStr = ({ y, m, d }: { y: number; m: number; d: number }) => `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
const expiryArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.oneof(fc.integer({ min: NOW_S - 3600, max: NOW_S + 365 * 86400 }), fc.constantFrom('2026-06-01', '2026-05-31', '2027-01-01', '2026-06-01T12:00:00Z', '2026-06-01T14:00:01+02:00')), weight: 6 },
  fc.jsonValue(),
  fc.integer({ min: NOW_S - 86_400, max: NOW_S + 86_400 }),
  fc.constantFrom(NOW_S, NOW_S - 1, NOW_S + 1, 0, -1, 1e12, 1e13, 2 ** 53, 253402300799, 253402300800, 253402300801),
  fc.double({ min: NOW_S - 10, max: NOW_S + 10 }),
  fc.integer({ min: NOW_S - 86_400, max: NOW_S + 86_400 }).map(String),
  dateArb.map(dateStr),
  fc.tuple(dateArb, fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 }), fc.integer({ min: 0, max: 61 }), fc.option(fc.stringMatching(/^\.\d{1,10}$/)), fc.oneof(fc.constant('Z'), fc.constant('z'), fc.constant(''), fc.tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 })).map(([s, h, mm]) => `${s}${pad(h, 2)}:${pad(mm, 2)}`))).map(
    ([d, h, mi, s, frac, off]) => `${dateStr(d)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${frac ?? ''}${off}`,
  ),
  // date-times right around now, in several zones
  fc.tuple(fc.integer({ min: -5, max: 5 }), fc.integer({ min: -14, max: 14 }), fc.constantFrom(0, 30, 45)).map(([ds, oh, om]) => {
    const off = Math.sign(oh || 1) * (Math.abs(oh) * 60 + (oh === 0 ? 0 : om));
    const local = new Date(NOW + ds * 1000 + off * 60_000).toISOString().slice(0, 19);
    const sign = off < 0 ? '-' : '+';
    return `${local}${sign}${pad(Math.floor(Math.abs(off) / 60), 2)}:${pad(Math.abs(off) % 60, 2)}`;
  }),
);

const optsArb = fc.record({ arrayPolicy: fc.constantFrom<ArrayPolicy>('reject', 'any', 'all'), caseInsensitive: fc.boolean(), acceptRanks: fc.boolean() });

// ---------------------------------------------------------------- properties

describe('evaluateClaims agrees with an independent oracle', () => {
  it(`on biased and arbitrary claim values (${RUNS} runs)`, () => {
    let allowed = 0;
    fc.assert(
      fc.property(nationalityArb, clearanceArb, expiryArb, optsArb, (nationality, clearance, expiry, o) => {
        const payload = { sub: 'anna', nationality, clearance, clearance_expires_at: expiry };
        const r = evaluateClaims(payload, compiled(o), NOW);
        const got = r.identity !== undefined && r.denials.length === 0;
        expect(got).toBe(oracleAllows({ nationality, clearance, expiry }, o));
        // a refusal always says why, with reasons from the claims vocabulary
        if (!got) expect(r.denials.length).toBeGreaterThan(0);
        if (got) allowed++;
      }),
      { numRuns: RUNS },
    );
    // the generators reach the interesting region: a good share of runs must be allowed
    expect(allowed).toBeGreaterThan(RUNS / 20);
    recordGenerated(RUNS);
  });

  it('each claim on its own, the other two valid', () => {
    const valid = { nationality: 'NL', clearance: 'STG_GEHEIM', expiry: '2027-01-01' };
    fc.assert(
      fc.property(fc.constantFrom('nationality', 'clearance', 'expiry'), fc.oneof(nationalityArb, clearanceArb, expiryArb), optsArb, (which, value, opts) => {
        const p = { ...valid, [which]: value };
        const r = evaluateClaims({ sub: 's', nationality: p.nationality, clearance: p.clearance, clearance_expires_at: p.expiry }, compiled(opts), NOW);
        expect(r.identity !== undefined && r.denials.length === 0).toBe(oracleAllows(p, opts));
      }),
      { numRuns: RUNS },
    );
    recordGenerated(RUNS);
  });

  it('never throws on arbitrary payload objects, including prototype keys and non-JSON numbers', () => {
    const weird = fc.oneof(fc.jsonValue(), fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 1e308, Number.MIN_VALUE, undefined));
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'toString', 'nationality', 'clearance', 'clearance_expires_at', 'sub', 'jti', 'exp', 'org')), weird, { maxKeys: 12 }), optsArb, (dict, o) => {
        const payload = JSON.parse(JSON.stringify(dict) ?? '{}') as Record<string, unknown>;
        expect(() => evaluateClaims(payload, compiled(o), NOW)).not.toThrow();
        expect(() => evaluateClaims(dict as Record<string, unknown>, compiled(o), NOW)).not.toThrow();
      }),
      { numRuns: RUNS },
    );
    recordGenerated(RUNS);
  });
});

describe('type confusion is never allowed', () => {
  const o: Opts = { arrayPolicy: 'reject', caseInsensitive: false, acceptRanks: false };
  const allow = (nationality: unknown, clearance: unknown, expiry: unknown, opts = o) => {
    const r = evaluateClaims({ sub: 's', nationality, clearance, clearance_expires_at: expiry }, compiled(opts), NOW);
    return r.identity !== undefined && r.denials.length === 0;
  };

  it('numeric-looking strings for clearance are refused even with ranks on; numbers in range pass only with ranks', () => {
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 10 }), fc.constantFrom('', ' ', '0', '.0', 'e0', '\n'), fc.boolean(), (n, deco, ranks) => {
        expect(allow('NL', `${n}${deco}`, '2027-01-01', { ...o, acceptRanks: ranks })).toBe(false);
        expect(allow('NL', ` ${n}`, '2027-01-01', { ...o, acceptRanks: ranks })).toBe(false);
        expect(allow('NL', n, '2027-01-01', { ...o, acceptRanks: ranks })).toBe(ranks && n >= 0 && n <= 3);
      }),
      { numRuns: 1000 },
    );
    recordGenerated(1000);
  });

  it('numbers are never nationality codes and strings of digits are never expiry instants', () => {
    fc.assert(
      fc.property(fc.integer({ min: NOW_S + 1, max: NOW_S + 10 * 365 * 86400 }), (t) => {
        expect(allow('NL', 'STG_GEHEIM', String(t))).toBe(false);
        expect(allow('NL', 'STG_GEHEIM', t)).toBe(true);
        expect(allow(528, 'STG_GEHEIM', t)).toBe(false);
      }),
      { numRuns: 500 },
    );
    recordGenerated(500);
  });

  it('arrays wrapping valid values are refused, except a nationality array under any/all', () => {
    fc.assert(
      fc.property(fc.constantFrom<ArrayPolicy>('reject', 'any', 'all'), fc.boolean(), (arrayPolicy, acceptRanks) => {
        const opts = { arrayPolicy, caseInsensitive: false, acceptRanks };
        expect(allow(['NL'], 'STG_GEHEIM', '2027-01-01', opts)).toBe(arrayPolicy !== 'reject');
        expect(allow('NL', ['STG_GEHEIM'], '2027-01-01', opts)).toBe(false);
        expect(allow('NL', [2], '2027-01-01', opts)).toBe(false);
        expect(allow('NL', 'STG_GEHEIM', ['2027-01-01'], opts)).toBe(false);
        expect(allow('NL', 'STG_GEHEIM', [NOW_S + 100], opts)).toBe(false);
        expect(allow([['NL']], 'STG_GEHEIM', '2027-01-01', opts)).toBe(false);
      }),
      { numRuns: 50 },
    );
    recordGenerated(50);
  });
});
