// parseNationality: exact ISO 3166-1 codes; alpha-3 normalised to alpha-2; optional ASCII-only case folding.

import { describe, expect, it } from 'vitest';
import { isKnownAlpha2, parseNationality } from '../../src/policy/nationality.js';

describe('parseNationality', () => {
  const ROWS: Array<[unknown, boolean, ReturnType<typeof parseNationality>]> = [
    ['NL', false, { ok: true, alpha2: 'NL', raw: 'NL' }],
    ['NLD', false, { ok: true, alpha2: 'NL', raw: 'NLD' }],
    ['nl', false, { ok: false }],
    ['nl', true, { ok: true, alpha2: 'NL', raw: 'nl' }],
    ['nLd', true, { ok: true, alpha2: 'NL', raw: 'nLd' }],
    ['QQ', false, { ok: true, alpha2: 'QQ', raw: 'QQ' }], // well-formed: refused later as "not allowed"
    ['QQQ', false, { ok: true, alpha2: null, raw: 'QQQ' }], // unknown alpha-3: never maps to an allowed code
    ['N', false, { ok: false }],
    ['NLDX', false, { ok: false }],
    [' NL', true, { ok: false }],
    ['NL\n', true, { ok: false }],
    ['ſe', true, { ok: false }],
    ['ıt', true, { ok: false }],
    ['ﬁn', true, { ok: false }],
    ['ß', true, { ok: false }], // "ß".toUpperCase() is "SS"
    ['ＮＬ', true, { ok: false }],
    [528, false, { ok: false }],
    [['NL'], false, { ok: false }],
    [null, true, { ok: false }],
    [undefined, true, { ok: false }],
    [{ toString: () => 'NL' }, true, { ok: false }],
  ];
  it.each(ROWS)('%j (caseInsensitive %s)', (value, ci, expected) => {
    expect(parseNationality(value, ci)).toEqual(expected);
  });

  it('maps every alpha-3 in its table back to a known alpha-2, and no alpha-3 to another country', () => {
    const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const seen = new Map<string, string>();
    for (const a of letters) for (const b of letters) for (const c of letters) {
      const p = parseNationality(a + b + c, false);
      if (p.ok && p.alpha2 !== null) {
        expect(isKnownAlpha2(p.alpha2)).toBe(true);
        expect(seen.has(p.alpha2), `${p.alpha2} has two alpha-3 codes`).toBe(false);
        seen.set(p.alpha2, a + b + c);
      }
    }
    expect(seen.get('NL')).toBe('NLD');
    expect(seen.get('US')).toBe('USA');
    // the only alpha-3 codes that normalise to NL
    expect([...seen].filter(([a2]) => a2 === 'NL').map(([, a3]) => a3)).toEqual(['NLD']);
  });

  it('isKnownAlpha2 is an own-property lookup', () => {
    expect(isKnownAlpha2('NL')).toBe(true);
    for (const k of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'nl', 'NLD']) expect(isKnownAlpha2(k)).toBe(false);
  });
});
