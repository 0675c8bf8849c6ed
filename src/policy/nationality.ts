// Nationality codes: ISO 3166-1 alpha-2 and the alpha-3 equivalents the gateway knows, compared exactly.

// alpha-2 → alpha-3 for EU, EEA, NATO and Five Eyes states (plus neighbours); enough to normalise the codes a
// configuration may allow. A well-formed code outside this table can still be refused as "not allowed".
const ALPHA3: Readonly<Record<string, string>> = Object.freeze({
  AL: 'ALB', AT: 'AUT', AU: 'AUS', BE: 'BEL', BG: 'BGR', CA: 'CAN', CH: 'CHE', CY: 'CYP', CZ: 'CZE', DE: 'DEU',
  DK: 'DNK', EE: 'EST', ES: 'ESP', FI: 'FIN', FR: 'FRA', GB: 'GBR', GR: 'GRC', HR: 'HRV', HU: 'HUN', IE: 'IRL',
  IS: 'ISL', IT: 'ITA', LI: 'LIE', LT: 'LTU', LU: 'LUX', LV: 'LVA', ME: 'MNE', MK: 'MKD', MT: 'MLT', NL: 'NLD',
  NO: 'NOR', NZ: 'NZL', PL: 'POL', PT: 'PRT', RO: 'ROU', SE: 'SWE', SI: 'SVN', SK: 'SVK', TR: 'TUR', US: 'USA',
  CN: 'CHN', RU: 'RUS', IN: 'IND', JP: 'JPN', KR: 'KOR', UA: 'UKR', BR: 'BRA', ZA: 'ZAF', SR: 'SUR', AW: 'ABW',
  CW: 'CUW', SX: 'SXM', BQ: 'BES', ID: 'IDN', MA: 'MAR',
});

const ALPHA2_BY_3: ReadonlyMap<string, string> = new Map(Object.entries(ALPHA3).map(([a2, a3]) => [a3, a2]));

export function isKnownAlpha2(code: string): boolean {
  return Object.hasOwn(ALPHA3, code);
}

const CODE_RE = /^[A-Z]{2,3}$/;
const FOLDABLE_RE = /^[A-Za-z]{2,3}$/;

export type NationalityParse = { ok: true; alpha2: string | null; raw: string } | { ok: false };

/**
 * Parse one nationality value: an upper-case alpha-2 or alpha-3 code, nothing else (no trimming, no substrings).
 * `alpha2` is null for a well-formed alpha-3 code the table does not know.
 *
 * Case folding (off by default) folds ASCII letters only. String.prototype.toUpperCase applies Unicode case
 * mappings, several of which land on ASCII — "ſ" (long s) → "S", "ı" (dotless i) → "I", "ﬁ" → "FI" — so folding
 * first and checking afterwards would accept "ſe" as SE or "ﬁn" as FIN.
 */
export function parseNationality(value: unknown, caseInsensitive: boolean): NationalityParse {
  if (typeof value !== 'string') return { ok: false };
  if (caseInsensitive && !FOLDABLE_RE.test(value)) return { ok: false };
  const code = caseInsensitive ? value.toUpperCase() : value;
  if (!CODE_RE.test(code)) return { ok: false };
  if (code.length === 2) return { ok: true, alpha2: code, raw: value };
  return { ok: true, alpha2: ALPHA2_BY_3.get(code) ?? null, raw: value };
}
