// evaluateClaims / checkCategory tables on a frozen clock: nationality, clearance, clearance expiry, subject, org.

import { describe, expect, it } from 'vitest';
import { buildRuntime } from '../../src/config/load.js';
import type { ArrayPolicy, PolicyConfig } from '../../src/config/types.js';
import { allowedCategories, checkCategory, compilePolicy, evaluateClaims, parseClearanceExpiry, type CompiledPolicy } from '../../src/policy/claims.js';
import type { Category, DenyReason } from '../../src/policy/reasons.js';
import { baseConfig, TEST_ENV } from '../helpers/harness.js';
import { recordCases } from '../security/summary.js';

const UNIT_CLASS = 'unit: claims';

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0); // 2026-06-01T12:00:00Z
const NOW_S = NOW / 1000;
const DUTCH = ['DEPARTEMENTAAL_VERTROUWELIJK', 'STG_CONFIDENTIEEL', 'STG_GEHEIM', 'STG_ZEER_GEHEIM'];
const NATO = ['NATO_RESTRICTED', 'NATO_CONFIDENTIAL', 'NATO_SECRET', 'COSMIC_TOP_SECRET'];

interface Variant {
  arrayPolicy?: ArrayPolicy;
  caseInsensitive?: boolean;
  allowed?: string[];
  acceptRanks?: boolean;
  scale?: 'dutch' | 'nato';
  orgsRequired?: boolean;
  orgs?: string[];
}

function policyConfig(v: Variant = {}): PolicyConfig {
  const nato = v.scale === 'nato';
  return {
    claims: { subject: 'sub', nationality: 'nationality', clearance: 'clearance', clearanceExpiresAt: 'clearance_expires_at', org: 'org' },
    nationality: { allowed: v.allowed ?? ['NL'], arrayPolicy: v.arrayPolicy ?? 'reject', caseInsensitive: v.caseInsensitive ?? false },
    clearance: { scale: nato ? NATO : DUTCH, acceptRanks: v.acceptRanks ?? false },
    categories: nato
      ? { catalogue: { minClearance: 'NATO_CONFIDENTIAL' }, lineage: { minClearance: 'NATO_SECRET' }, usage: { minClearance: 'NATO_CONFIDENTIAL' } }
      : { catalogue: { minClearance: 'STG_CONFIDENTIEEL' }, lineage: { minClearance: 'STG_GEHEIM' }, usage: { minClearance: 'STG_CONFIDENTIEEL' } },
    orgs: { required: v.orgsRequired ?? false, allowed: v.orgs ?? [] },
  };
}
const policy = (v: Variant = {}): CompiledPolicy => compilePolicy(policyConfig(v));

const BASE: Record<string, unknown> = Object.freeze({
  sub: 'anna.devries@vendor.example',
  jti: 'jti-1',
  exp: NOW_S + 600,
  nationality: 'NL',
  clearance: 'STG_GEHEIM',
  clearance_expires_at: '2027-01-01',
});
const ABSENT = Symbol('absent');
function payload(over: Record<string, unknown | typeof ABSENT>): Record<string, unknown> {
  const p: Record<string, unknown> = { ...BASE };
  for (const [k, v] of Object.entries(over)) {
    if (v === ABSENT) delete p[k];
    else p[k] = v;
  }
  return p;
}

/** 'ok' when claims pass, otherwise the list of reasons in order */
function outcome(p: Record<string, unknown>, pol: CompiledPolicy, now = NOW): 'ok' | DenyReason[] {
  const r = evaluateClaims(p, pol, now);
  if (r.identity && r.denials.length === 0) return 'ok';
  expect(r.identity).toBeUndefined();
  expect(r.denials.length).toBeGreaterThan(0);
  return r.denials.map((d) => d.reason);
}

it('the policy built from the harness baseConfig is the default Dutch policy these tables assume', () => {
  const rt = buildRuntime(baseConfig({ upstreamUrl: 'http://127.0.0.1:1', jwksUrl: 'http://127.0.0.1:1/jwks.json' }), { env: TEST_ENV });
  expect(rt.policy.config).toEqual(policyConfig());
});

// ---------------------------------------------------------------- nationality

type Row = [name: string, value: unknown, expected: 'ok' | DenyReason, variant?: Variant];

const NATIONALITY: Row[] = [
  ['NL', 'NL', 'ok'],
  ['NLD (alpha-3 ≡ NL)', 'NLD', 'ok'],
  ['nl (no case folding by default)', 'nl', 'nationality_claim_invalid'],
  ['nl with caseInsensitive', 'nl', 'ok', { caseInsensitive: true }],
  ['nld with caseInsensitive', 'nld', 'ok', { caseInsensitive: true }],
  ['Nl', 'Nl', 'nationality_claim_invalid'],
  ['Nl with caseInsensitive', 'Nl', 'ok', { caseInsensitive: true }],
  ['" NL" (leading space)', ' NL', 'nationality_claim_invalid'],
  ['"NL " (trailing space)', 'NL ', 'nationality_claim_invalid'],
  ['" NL" with caseInsensitive (folding never trims)', ' NL', 'nationality_claim_invalid', { caseInsensitive: true }],
  ['"NL\\n"', 'NL\n', 'nationality_claim_invalid'],
  ['NLX (well-formed alpha-3, not NLD)', 'NLX', 'nationality_not_allowed'],
  ['XNL', 'XNL', 'nationality_not_allowed'],
  ['NLD with a suffix', 'NLDX', 'nationality_claim_invalid'],
  ['NL,BE', 'NL,BE', 'nationality_claim_invalid'],
  ['NL BE', 'NL BE', 'nationality_claim_invalid'],
  ['NL;NLD', 'NL;NLD', 'nationality_claim_invalid'],
  ['"NL\\u0000"', 'NL\u0000', 'nationality_claim_invalid'],
  ['"\\u0000NL"', '\u0000NL', 'nationality_claim_invalid'],
  ['NL with a zero-width space', 'NL\u200b', 'nationality_claim_invalid'],
  ['full-width ＮＬ', 'ＮＬ', 'nationality_claim_invalid'],
  ['full-width ｎｌ with caseInsensitive', 'ｎｌ', 'nationality_claim_invalid', { caseInsensitive: true }],
  ['Greek capital Nu + L (looks like NL)', '\u039dL', 'nationality_claim_invalid', { caseInsensitive: true }],
  // Unicode case mappings that land on ASCII: long s → S, dotless i → I, the "fi" ligature → FI
  ['"ſe" with caseInsensitive and SE allowed (long s is not s)', 'ſe', 'nationality_claim_invalid', { caseInsensitive: true, allowed: ['NL', 'SE'] }],
  ['"ıt" with caseInsensitive and IT allowed (dotless i is not i)', 'ıt', 'nationality_claim_invalid', { caseInsensitive: true, allowed: ['NL', 'IT'] }],
  ['"ﬁn" with caseInsensitive and FI allowed (ligature)', 'ﬁn', 'nationality_claim_invalid', { caseInsensitive: true, allowed: ['NL', 'FI'] }],
  ['empty string', '', 'nationality_claim_invalid'],
  ['N', 'N', 'nationality_claim_invalid'],
  ['US', 'US', 'nationality_not_allowed'],
  ['USA', 'USA', 'nationality_not_allowed'],
  ['BE (a neighbour)', 'BE', 'nationality_not_allowed'],
  ['BE when BE is allowed too', 'BE', 'ok', { allowed: ['NL', 'BE'] }],
  ['BEL when BE is allowed too', 'BEL', 'ok', { allowed: ['NL', 'BE'] }],
  ['NL when only BE is allowed', 'NL', 'nationality_not_allowed', { allowed: ['BE'] }],
  ['"NL" substring trick: "NLD".includes("NL")-style ANL', 'ANL', 'nationality_not_allowed'],
  // arrays
  ['["NL"] under reject (default)', ['NL'], 'nationality_claim_invalid'],
  ['["NL"] under any', ['NL'], 'ok', { arrayPolicy: 'any' }],
  ['["NL"] under all', ['NL'], 'ok', { arrayPolicy: 'all' }],
  ['["NL","US"] under reject', ['NL', 'US'], 'nationality_claim_invalid'],
  ['["NL","US"] under any (a Dutch dual national)', ['NL', 'US'], 'ok', { arrayPolicy: 'any' }],
  ['["NL","US"] under all', ['NL', 'US'], 'nationality_not_allowed', { arrayPolicy: 'all' }],
  ['["US","NLD"] under any', ['US', 'NLD'], 'ok', { arrayPolicy: 'any' }],
  ['["NL","NLD"] under all', ['NL', 'NLD'], 'ok', { arrayPolicy: 'all' }],
  ['["US","USA"] under any', ['US', 'USA'], 'nationality_not_allowed', { arrayPolicy: 'any' }],
  ['[] under any', [], 'nationality_claim_invalid', { arrayPolicy: 'any' }],
  ['[] under all (never vacuously true)', [], 'nationality_claim_invalid', { arrayPolicy: 'all' }],
  ['["NL","nl"] under any: one malformed member spoils the claim', ['NL', 'nl'], 'nationality_claim_invalid', { arrayPolicy: 'any' }],
  ['["NL",528] under any', ['NL', 528], 'nationality_claim_invalid', { arrayPolicy: 'any' }],
  ['["NL",null] under any', ['NL', null], 'nationality_claim_invalid', { arrayPolicy: 'any' }],
  ['[["NL"]] under any (nested array)', [['NL']], 'nationality_claim_invalid', { arrayPolicy: 'any' }],
  ['[{"code":"NL"}] under any', [{ code: 'NL' }], 'nationality_claim_invalid', { arrayPolicy: 'any' }],
  ['["nl"] under any with caseInsensitive', ['nl'], 'ok', { arrayPolicy: 'any', caseInsensitive: true }],
  // other types
  ['528 (ISO numeric for NL)', 528, 'nationality_claim_invalid'],
  ['"528"', '528', 'nationality_claim_invalid'],
  ['true', true, 'nationality_claim_invalid'],
  ['false', false, 'nationality_claim_invalid'],
  ['null', null, 'nationality_claim_invalid'],
  ['{"code":"NL"}', { code: 'NL' }, 'nationality_claim_invalid'],
  ['{"0":"N","1":"L","length":2} (array-like)', { 0: 'N', 1: 'L', length: 2 }, 'nationality_claim_invalid'],
  ['missing', ABSENT, 'nationality_claim_invalid'],
];

describe('evaluateClaims — nationality', () => {
  it.each(NATIONALITY)('%s → %s', (_name, value, expected, variant) => {
    const out = outcome(payload({ nationality: value }), policy(variant));
    expect(out === 'ok' ? 'ok' : out[0]).toBe(expected);
    if (out !== 'ok') expect(out).toHaveLength(1);
    recordCases(UNIT_CLASS, 1);
  });

  it('normalises the accepted code to alpha-2 for the identity', () => {
    expect(evaluateClaims(payload({ nationality: 'NLD' }), policy(), NOW).identity?.nationality).toBe('NL');
    expect(evaluateClaims(payload({ nationality: 'nld' }), policy({ caseInsensitive: true }), NOW).identity?.nationality).toBe('NL');
    expect(evaluateClaims(payload({ nationality: ['US', 'NLD'] }), policy({ arrayPolicy: 'any' }), NOW).identity?.nationality).toBe('NL');
  });

  it('a "__proto__" member from JSON.parse never yields a nationality', () => {
    const p = JSON.parse(`{"sub":"s","clearance":"STG_GEHEIM","clearance_expires_at":"2027-01-01","__proto__":{"nationality":"NL"}}`) as Record<string, unknown>;
    expect((p as { nationality?: unknown }).nationality).toBeUndefined(); // JSON.parse makes __proto__ an own key
    expect(outcome(p, policy())).toEqual(['nationality_claim_invalid']);
    const viaProto = Object.create({ nationality: 'NL', clearance: 'STG_GEHEIM' }) as Record<string, unknown>;
    Object.assign(viaProto, { sub: 's', clearance_expires_at: '2027-01-01' });
    expect(viaProto.nationality).toBe('NL'); // inherited, visible to a naive read
    expect(outcome(viaProto, policy())).toEqual(['nationality_claim_invalid', 'clearance_claim_invalid']);
  });

  it('a claim named like an Object.prototype member is not read from the prototype', () => {
    const cfg = policyConfig();
    const pol = compilePolicy({ ...cfg, claims: { ...cfg.claims, nationality: 'constructor', clearance: 'toString' } });
    expect(outcome(payload({}), pol)).toEqual(['nationality_claim_invalid', 'clearance_claim_invalid']);
  });

  it('refusals say what is wrong in a human sentence', () => {
    expect(evaluateClaims(payload({ nationality: 'US' }), policy(), NOW).denials[0]!.detail).toBe('nationality US is not allowed; access requires NL');
    expect(evaluateClaims(payload({ nationality: ['NL'] }), policy(), NOW).denials[0]!.detail).toMatch(/is an array; a single country code is required/);
    expect(evaluateClaims(payload({ nationality: ABSENT }), policy(), NOW).denials[0]!.detail).toBe('the "nationality" claim is missing');
  });
});

// ---------------------------------------------------------------- clearance level

const CLEARANCE: Row[] = [
  ...DUTCH.map((n): Row => [n, n, 'ok']),
  ['stg_geheim', 'stg_geheim', 'clearance_claim_invalid'],
  ['Stg_Geheim', 'Stg_Geheim', 'clearance_claim_invalid'],
  ['"STG_GEHEIM " (trailing space)', 'STG_GEHEIM ', 'clearance_claim_invalid'],
  ['" STG_GEHEIM" (leading space)', ' STG_GEHEIM', 'clearance_claim_invalid'],
  ['STG-GEHEIM', 'STG-GEHEIM', 'clearance_claim_invalid'],
  ['GEHEIM', 'GEHEIM', 'clearance_claim_invalid'],
  ['STG_GEHEIM\\u0000', 'STG_GEHEIM\u0000', 'clearance_claim_invalid'],
  ['STG_GEHEİM (Turkish dotted capital I)', 'STG_GEHEİM', 'clearance_claim_invalid'],
  ['STG_ZEER_GEHEIM with a Cyrillic Е', 'STG_ZЕER_GEHEIM', 'clearance_claim_invalid'],
  ['"2"', '2', 'clearance_claim_invalid'],
  ['" 2 "', ' 2 ', 'clearance_claim_invalid'],
  ['"02"', '02', 'clearance_claim_invalid'],
  ['"2.0"', '2.0', 'clearance_claim_invalid'],
  ['"1e3"', '1e3', 'clearance_claim_invalid'],
  ['"0x2"', '0x2', 'clearance_claim_invalid'],
  ['"10"', '10', 'clearance_claim_invalid'],
  ['" 4 "', ' 4 ', 'clearance_claim_invalid'],
  ['2 (rank) without acceptRanks', 2, 'clearance_claim_invalid'],
  ['"2" with acceptRanks (strings that look like numbers stay refused)', '2', 'clearance_claim_invalid', { acceptRanks: true }],
  ['0 with acceptRanks', 0, 'ok', { acceptRanks: true }],
  ['2 with acceptRanks', 2, 'ok', { acceptRanks: true }],
  ['3 with acceptRanks (top of the scale)', 3, 'ok', { acceptRanks: true }],
  ['4 with acceptRanks (out of range)', 4, 'clearance_claim_invalid', { acceptRanks: true }],
  ['-1 with acceptRanks', -1, 'clearance_claim_invalid', { acceptRanks: true }],
  ['2.5 with acceptRanks', 2.5, 'clearance_claim_invalid', { acceptRanks: true }],
  // JSON cannot tell 2.0 from 2: JSON.parse("2.0") === 2, so a token saying 2.0 is rank 2
  ['JSON 2.0 with acceptRanks (parses to 2)', JSON.parse('2.0') as number, 'ok', { acceptRanks: true }],
  ['JSON 2e0 with acceptRanks (parses to 2)', JSON.parse('2e0') as number, 'ok', { acceptRanks: true }],
  ['1e3 with acceptRanks', 1e3, 'clearance_claim_invalid', { acceptRanks: true }],
  ['NaN with acceptRanks', Number.NaN, 'clearance_claim_invalid', { acceptRanks: true }],
  ['Infinity with acceptRanks', Number.POSITIVE_INFINITY, 'clearance_claim_invalid', { acceptRanks: true }],
  ['"NaN"', 'NaN', 'clearance_claim_invalid'],
  ['"Infinity"', 'Infinity', 'clearance_claim_invalid'],
  ['"undefined"', 'undefined', 'clearance_claim_invalid'],
  ['"null"', 'null', 'clearance_claim_invalid'],
  ['"constructor" (a Map has no prototype keys)', 'constructor', 'clearance_claim_invalid'],
  ['"__proto__"', '__proto__', 'clearance_claim_invalid'],
  ['["STG_GEHEIM"]', ['STG_GEHEIM'], 'clearance_claim_invalid'],
  ['["STG_GEHEIM"] with acceptRanks', ['STG_GEHEIM'], 'clearance_claim_invalid', { acceptRanks: true }],
  ['[2] with acceptRanks', [2], 'clearance_claim_invalid', { acceptRanks: true }],
  ['{"level":"STG_GEHEIM"}', { level: 'STG_GEHEIM' }, 'clearance_claim_invalid'],
  ['true', true, 'clearance_claim_invalid'],
  ['null', null, 'clearance_claim_invalid'],
  ['missing', ABSENT, 'clearance_claim_invalid'],
  // NATO scale
  ...NATO.map((n): Row => [`${n} on the NATO scale`, n, 'ok', { scale: 'nato' }]),
  ['STG_GEHEIM on the NATO scale', 'STG_GEHEIM', 'clearance_claim_invalid', { scale: 'nato' }],
  ['NATO_SECRET on the Dutch scale', 'NATO_SECRET', 'clearance_claim_invalid'],
  ['nato_secret on the NATO scale', 'nato_secret', 'clearance_claim_invalid', { scale: 'nato' }],
  ['COSMIC TOP SECRET (spaces)', 'COSMIC TOP SECRET', 'clearance_claim_invalid', { scale: 'nato' }],
  ['3 on the NATO scale with acceptRanks', 3, 'ok', { scale: 'nato', acceptRanks: true }],
];

describe('evaluateClaims — clearance level', () => {
  it.each(CLEARANCE)('%s → %s', (_name, value, expected, variant) => {
    const out = outcome(payload({ clearance: value }), policy(variant));
    expect(out === 'ok' ? 'ok' : out).toEqual(expected === 'ok' ? 'ok' : [expected]);
    recordCases(UNIT_CLASS, 1);
  });

  it('a rank maps to the scale name, and a name to its rank', () => {
    expect(evaluateClaims(payload({ clearance: 2 }), policy({ acceptRanks: true }), NOW).identity).toMatchObject({ clearance: 'STG_GEHEIM', clearanceRank: 2 });
    expect(evaluateClaims(payload({ clearance: 3 }), policy({ acceptRanks: true, scale: 'nato' }), NOW).identity).toMatchObject({ clearance: 'COSMIC_TOP_SECRET', clearanceRank: 3 });
    DUTCH.forEach((n, i) => expect(evaluateClaims(payload({ clearance: n }), policy(), NOW).identity?.clearanceRank).toBe(i));
    // -0 is JSON too; it is rank 0, the lowest level
    expect(evaluateClaims(payload({ clearance: JSON.parse('-0') as number }), policy({ acceptRanks: true }), NOW).identity).toMatchObject({ clearance: DUTCH[0], clearanceRank: 0 });
  });
});

// ---------------------------------------------------------------- clearance expiry

const EXPIRY: Row[] = [
  ['NumericDate one second ahead', NOW_S + 1, 'ok'],
  ['NumericDate one second ago', NOW_S - 1, 'clearance_expired'],
  ['NumericDate exactly now (an instant that has arrived is over)', NOW_S, 'clearance_expired'],
  ['NumericDate a year ahead', NOW_S + 365 * 86400, 'ok'],
  ['NumericDate as a string "1893456000"', '1893456000', 'clearance_claim_invalid'],
  ['NumericDate as a string " 1893456000 "', ' 1893456000 ', 'clearance_claim_invalid'],
  ['float seconds 1893456000.5 (refused: the contract is integer seconds)', 1893456000.5, 'clearance_claim_invalid'],
  ['JSON 1893456000.0 (parses to an integer, so accepted)', JSON.parse('1893456000.0') as number, 'ok'],
  ['0', 0, 'clearance_claim_invalid'],
  ['negative', -1, 'clearance_claim_invalid'],
  ['253402300799 (9999-12-31T23:59:59Z)', 253402300799, 'ok'],
  ['253402300800 (the end of 9999-12-31, the latest accepted instant)', 253402300800, 'ok'],
  ['253402300801 (past the end of year 9999)', 253402300801, 'clearance_claim_invalid'],
  // A milliseconds timestamp read as seconds would put an expired clearance tens of thousands of years ahead
  ['1e12 (a millisecond timestamp mistaken for seconds; far beyond year 9999)', 1e12, 'clearance_claim_invalid'],
  ['a past millisecond timestamp (2020) sent where seconds are expected', Date.UTC(2020, 0, 1), 'clearance_claim_invalid'],
  ['1e13 (beyond the JavaScript Date range)', 1e13, 'clearance_claim_invalid'],
  ['2^53', 2 ** 53, 'clearance_claim_invalid'],
  ['NaN', Number.NaN, 'clearance_claim_invalid'],
  ['Infinity', Number.POSITIVE_INFINITY, 'clearance_claim_invalid'],
  ['date-only 2027-01-01', '2027-01-01', 'ok'],
  ['date-only today (valid through the end of the day UTC)', '2026-06-01', 'ok'],
  ['date-only yesterday', '2026-05-31', 'clearance_expired'],
  ['2026-02-30', '2026-02-30', 'clearance_claim_invalid'],
  ['2026-13-01', '2026-13-01', 'clearance_claim_invalid'],
  ['2026-00-10', '2026-00-10', 'clearance_claim_invalid'],
  ['2026-06-00', '2026-06-00', 'clearance_claim_invalid'],
  ['2026-06-31', '2026-06-31', 'clearance_claim_invalid'],
  ['2028-02-29 (leap year)', '2028-02-29', 'ok'],
  ['2027-02-29 (not a leap year)', '2027-02-29', 'clearance_claim_invalid'],
  ['2100-02-29 (century, not a leap year)', '2100-02-29', 'clearance_claim_invalid'],
  ['2400-02-29 (400-year, a leap year)', '2400-02-29', 'ok'],
  ['2027-1-1', '2027-1-1', 'clearance_claim_invalid'],
  ['2027/01/01', '2027/01/01', 'clearance_claim_invalid'],
  ['20270101', '20270101', 'clearance_claim_invalid'],
  ['01-01-2027', '01-01-2027', 'clearance_claim_invalid'],
  ['"2027-01-01 " (trailing space)', '2027-01-01 ', 'clearance_claim_invalid'],
  ['+002027-01-01 (expanded year)', '+002027-01-01', 'clearance_claim_invalid'],
  ['2027', '2027', 'clearance_claim_invalid'],
  ['2027-01', '2027-01', 'clearance_claim_invalid'],
  ['0000-01-01', '0000-01-01', 'clearance_claim_invalid'],
  ['9999-12-31', '9999-12-31', 'ok'],
  ['9999-12-31T23:59:59-05:00 (past the end of year 9999 in UTC)', '9999-12-31T23:59:59-05:00', 'clearance_claim_invalid'],
  ['1969-12-31T23:59:59Z (before the epoch)', '1969-12-31T23:59:59Z', 'clearance_claim_invalid'],
  ['date-time with Z', '2027-01-01T00:00:00Z', 'ok'],
  ['date-time with +02:00', '2027-01-01T00:00:00+02:00', 'ok'],
  ['date-time with -05:00', '2027-01-01T00:00:00-05:00', 'ok'],
  ['date-time with -00:00', '2027-01-01T00:00:00-00:00', 'ok'],
  ['date-time with fractional seconds', '2027-01-01T00:00:00.5Z', 'ok'],
  ['date-time with nanoseconds', '2027-01-01T00:00:00.123456789Z', 'ok'],
  ['date-time with 10 fraction digits', '2027-01-01T00:00:00.1234567890Z', 'clearance_claim_invalid'],
  ['date-time without offset (local time is ambiguous)', '2027-01-01T00:00:00', 'clearance_claim_invalid'],
  ['date-time without seconds', '2027-01-01T00:00Z', 'clearance_claim_invalid'],
  ['date-time with lower-case t', '2027-01-01t00:00:00Z', 'clearance_claim_invalid'],
  ['date-time with lower-case z', '2027-01-01T00:00:00z', 'clearance_claim_invalid'],
  ['date-time with a space separator', '2027-01-01 00:00:00Z', 'clearance_claim_invalid'],
  ['date-time 24:00:00', '2027-01-01T24:00:00Z', 'clearance_claim_invalid'],
  ['date-time 23:60:00', '2027-01-01T23:60:00Z', 'clearance_claim_invalid'],
  ['date-time leap second 23:59:60', '2026-12-31T23:59:60Z', 'clearance_claim_invalid'],
  ['date-time on 2026-02-30', '2026-02-30T00:00:00Z', 'clearance_claim_invalid'],
  ['date-time offset +24:00', '2027-01-01T00:00:00+24:00', 'clearance_claim_invalid'],
  ['date-time offset +23:59', '2027-01-01T00:00:00+23:59', 'ok'],
  ['date-time offset +02:60', '2027-01-01T00:00:00+02:60', 'clearance_claim_invalid'],
  ['date-time offset +0200', '2027-01-01T00:00:00+0200', 'clearance_claim_invalid'],
  ['date-time offset +02', '2027-01-01T00:00:00+02', 'clearance_claim_invalid'],
  // the offset is subtracted, not added: 14:00+02:00 is 12:00Z, which is now
  ['date-time at now in a +02:00 zone', '2026-06-01T14:00:00+02:00', 'clearance_expired'],
  ['date-time one second after now in a +02:00 zone', '2026-06-01T14:00:01+02:00', 'ok'],
  ['date-time at now in a -05:00 zone', '2026-06-01T07:00:00-05:00', 'clearance_expired'],
  ['date-time one second after now in a -05:00 zone', '2026-06-01T07:00:01-05:00', 'ok'],
  ['date-time one millisecond after now', '2026-06-01T12:00:00.001Z', 'ok'],
  ['date-time at now', '2026-06-01T12:00:00.000Z', 'clearance_expired'],
  ['true', true, 'clearance_claim_invalid'],
  ['null', null, 'clearance_claim_invalid'],
  ['["2027-01-01"]', ['2027-01-01'], 'clearance_claim_invalid'],
  ['{"date":"2027-01-01"}', { date: '2027-01-01' }, 'clearance_claim_invalid'],
  ['empty string', '', 'clearance_claim_invalid'],
  ['"never"', 'never', 'clearance_claim_invalid'],
  ['missing', ABSENT, 'clearance_claim_invalid'],
];

describe('evaluateClaims — clearance expiry', () => {
  it.each(EXPIRY)('%s → %s', (_name, value, expected) => {
    const out = outcome(payload({ clearance_expires_at: value }), policy());
    expect(out === 'ok' ? 'ok' : out).toEqual(expected === 'ok' ? 'ok' : [expected]);
    recordCases(UNIT_CLASS, 1);
  });

  it('a date-only expiry is valid through the last millisecond of that day, UTC', () => {
    const p = payload({ clearance_expires_at: '2026-06-01' });
    expect(outcome(p, policy(), Date.UTC(2026, 5, 1, 23, 59, 59, 999))).toBe('ok');
    expect(outcome(p, policy(), Date.UTC(2026, 5, 2, 0, 0, 0, 0))).toEqual(['clearance_expired']);
    expect(parseClearanceExpiry('2026-06-01')).toBe(Date.UTC(2026, 5, 2));
  });

  it('parseClearanceExpiry returns epoch milliseconds', () => {
    expect(parseClearanceExpiry(1893456000)).toBe(1893456000 * 1000);
    expect(parseClearanceExpiry('2027-01-01T00:00:00+02:00')).toBe(Date.UTC(2026, 11, 31, 22));
    expect(parseClearanceExpiry('2027-01-01T00:00:00.123456789Z')).toBe(Date.UTC(2027, 0, 1, 0, 0, 0, 123));
    expect(parseClearanceExpiry('9999-12-31')).toBe(253402300800000);
  });

  it('the expired sentence names the clearance and the instant', () => {
    const r = evaluateClaims(payload({ clearance_expires_at: '2026-05-31' }), policy(), NOW);
    expect(r.denials).toEqual([{ reason: 'clearance_expired', detail: 'your STG_GEHEIM clearance expired on 2026-06-01T00:00:00.000Z' }]);
    const r2 = evaluateClaims(payload({ clearance: 'x', clearance_expires_at: '2026-05-31' }), policy(), NOW);
    expect(r2.denials[1]!.detail).toBe('your clearance expired on 2026-06-01T00:00:00.000Z');
  });

  it('never throws on dates a JavaScript Date cannot hold, and keeps tokenExpiresAt printable', () => {
    for (const v of [1e13, 8.64e12 + 1, 2 ** 53, Number.MAX_VALUE, '275760-09-13', '+275760-09-13T00:00:00Z']) {
      expect(() => evaluateClaims(payload({ clearance_expires_at: v }), policy(), NOW)).not.toThrow();
    }
    const id = evaluateClaims(payload({ exp: 1e15 }), policy(), NOW).identity;
    expect(id).toBeDefined();
    expect(() => new Date(id!.tokenExpiresAt).toISOString()).not.toThrow();
  });
});

// ---------------------------------------------------------------- subject, jti, org

describe('evaluateClaims — subject, jti, organisation', () => {
  const ROWS: Array<[string, Record<string, unknown>, 'ok' | DenyReason, Variant?]> = [
    ['sub missing', { sub: ABSENT }, 'token_invalid'],
    ['sub empty', { sub: '' }, 'token_invalid'],
    ['sub a number', { sub: 42 }, 'token_invalid'],
    ['sub with a newline (log injection)', { sub: 'anna\nforged audit line' }, 'token_invalid'],
    ['sub with DEL', { sub: 'anna\u007f' }, 'token_invalid'],
    ['sub of 256 characters', { sub: 's'.repeat(256) }, 'ok'],
    ['sub of 257 characters', { sub: 's'.repeat(257) }, 'token_invalid'],
    ['jti a number', { jti: 7 }, 'token_invalid'],
    ['jti empty', { jti: '' }, 'token_invalid'],
    ['jti absent (optional here; the authenticator requires it)', { jti: ABSENT }, 'ok'],
    ['org absent, not required', {}, 'ok'],
    ['org absent, required', {}, 'org_not_allowed', { orgsRequired: true, orgs: ['vendor'] }],
    ['org allowed', { org: 'vendor' }, 'ok', { orgsRequired: true, orgs: ['vendor'] }],
    // review (session 8): an allow-list without `required` let a token without the claim through
    ['org absent, a list without required', {}, 'org_not_allowed', { orgs: ['vendor'] }],
    ['org on a list without required', { org: 'vendor' }, 'ok', { orgs: ['vendor'] }],
    ['org not on the list', { org: 'other' }, 'org_not_allowed', { orgs: ['vendor'] }],
    ['org case variant', { org: 'Vendor' }, 'org_not_allowed', { orgs: ['vendor'] }],
    ['org an array', { org: ['vendor'] }, 'org_not_allowed', { orgs: ['vendor'] }],
    ['org a number', { org: 1 }, 'org_not_allowed'],
  ];
  it.each(ROWS)('%s → %s', (_n, over, expected, variant) => {
    const out = outcome(payload(over), policy(variant));
    expect(out === 'ok' ? 'ok' : out).toEqual(expected === 'ok' ? 'ok' : [expected]);
    recordCases(UNIT_CLASS, 1);
  });

  it('the identity carries the normalised values', () => {
    const r = evaluateClaims(payload({ nationality: 'NLD', org: 'vendor' }), policy({ orgs: ['vendor'] }), NOW);
    expect(r.identity).toEqual({
      subject: 'anna.devries@vendor.example',
      nationality: 'NL',
      clearance: 'STG_GEHEIM',
      clearanceRank: 2,
      clearanceExpiresAt: Date.UTC(2027, 0, 2),
      tokenExpiresAt: (NOW_S + 600) * 1000,
      org: 'vendor',
      jti: 'jti-1',
    });
    expect(r.checks.every((ch) => ch.ok)).toBe(true);
  });
});

// ---------------------------------------------------------------- several failures at once

describe('evaluateClaims — every failure is reported', () => {
  it('collects one reason per failed check, in check order', () => {
    const r = evaluateClaims({ sub: '', nationality: 'US', clearance: '2', clearance_expires_at: '2020-01-01', org: 5, jti: 1 }, policy(), NOW);
    expect(r.identity).toBeUndefined();
    expect(r.denials.map((d) => d.reason)).toEqual(['token_invalid', 'nationality_not_allowed', 'clearance_claim_invalid', 'clearance_expired', 'org_not_allowed', 'token_invalid']);
    expect(r.checks.filter((ch) => !ch.ok).map((ch) => ch.check)).toEqual(['subject', 'nationality', 'clearance', 'clearance_expiry', 'org', 'jti']);
  });

  it('an empty payload fails every required check', () => {
    const r = evaluateClaims({}, policy(), NOW);
    expect(r.denials.map((d) => d.reason)).toEqual(['token_invalid', 'nationality_claim_invalid', 'clearance_claim_invalid', 'clearance_claim_invalid']);
  });
});

// ---------------------------------------------------------------- per-category minimums

describe('checkCategory — per-category minimum clearance', () => {
  const CATS: Category[] = ['catalogue', 'lineage', 'usage'];
  const MIN: Record<Category, number> = { catalogue: 1, lineage: 2, usage: 1 };
  const rows = DUTCH.flatMap((level, rank) => CATS.map((cat) => [level, rank, cat] as const));

  it.each(rows)('%s (rank %i) on %s', (level, rank, cat) => {
    const pol = policy();
    const id = evaluateClaims(payload({ clearance: level }), pol, NOW).identity!;
    const d = checkCategory(id, cat, pol);
    if (rank >= MIN[cat]) expect(d).toBeNull();
    else expect(d).toEqual({ reason: 'clearance_insufficient', detail: `clearance ${level} is below ${pol.config.categories[cat].minClearance}, which ${cat} endpoints require` });
    recordCases(UNIT_CLASS, 1);
  });

  it('says the exact sentence for STG_CONFIDENTIEEL on lineage', () => {
    const pol = policy();
    const id = evaluateClaims(payload({ clearance: 'STG_CONFIDENTIEEL' }), pol, NOW).identity!;
    expect(checkCategory(id, 'lineage', pol)?.detail).toBe('clearance STG_CONFIDENTIEEL is below STG_GEHEIM, which lineage endpoints require');
    expect(allowedCategories(id, pol)).toEqual(['catalogue', 'usage']);
  });

  it('works the same on the NATO scale', () => {
    const pol = policy({ scale: 'nato' });
    const id = evaluateClaims(payload({ clearance: 'NATO_CONFIDENTIAL' }), pol, NOW).identity!;
    expect(checkCategory(id, 'lineage', pol)?.detail).toBe('clearance NATO_CONFIDENTIAL is below NATO_SECRET, which lineage endpoints require');
    expect(checkCategory(id, 'catalogue', pol)).toBeNull();
    const restricted = evaluateClaims(payload({ clearance: 'NATO_RESTRICTED' }), pol, NOW).identity!;
    expect(allowedCategories(restricted, pol)).toEqual([]);
    const cosmic = evaluateClaims(payload({ clearance: 'COSMIC_TOP_SECRET' }), pol, NOW).identity!;
    expect(allowedCategories(cosmic, pol)).toEqual(['catalogue', 'lineage', 'usage']);
  });

  it('a category whose minimum is not on the scale admits nobody', () => {
    const cfg = policyConfig();
    const pol = compilePolicy({ ...cfg, categories: { ...cfg.categories, lineage: { minClearance: 'NOT_A_LEVEL' } } });
    const id = evaluateClaims(payload({ clearance: 'STG_ZEER_GEHEIM' }), pol, NOW).identity!;
    expect(checkCategory(id, 'lineage', pol)?.reason).toBe('clearance_insufficient');
  });
});
