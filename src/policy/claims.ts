// Pure identity checks on a verified token's claims: subject, nationality, clearance, clearance expiry, organisation.

import type { PolicyConfig } from '../config/types.js';
import { parseNationality } from './nationality.js';
import { shown } from '../errors.js';
import type { Category, DenyReason } from './reasons.js';

export interface Identity {
  subject: string;
  /** normalised alpha-2 nationality codes that were accepted */
  nationality: string;
  clearance: string;
  clearanceRank: number;
  /** epoch ms at which the clearance stops being valid */
  clearanceExpiresAt: number;
  org?: string;
  jti?: string;
  /** token expiry, epoch ms */
  tokenExpiresAt: number;
}

export interface Denial {
  reason: DenyReason;
  /** the sentence the vendor reads */
  detail: string;
  /**
   * What the audit record and the admin explain say instead, when it carries operators' words the vendor must not
   * read (a revocation's reason, a window's label: operations and exercises are not the vendor's business)
   */
  note?: string;
}

export interface CheckOutcome {
  check: string;
  ok: boolean;
  detail: string;
}

export interface ClaimsResult {
  identity?: Identity;
  denials: Denial[];
  checks: CheckOutcome[];
}

/** The policy precompiled from config once. */
export interface CompiledPolicy {
  readonly config: PolicyConfig;
  readonly rankOf: ReadonlyMap<string, number>;
  readonly allowed: ReadonlySet<string>;
  readonly minRank: Readonly<Record<Category, number>>;
  readonly orgs: ReadonlySet<string>;
}

export function compilePolicy(config: PolicyConfig): CompiledPolicy {
  const rankOf = new Map(config.clearance.scale.map((name, i) => [name, i] as const));
  const minRank = {
    catalogue: rankOf.get(config.categories.catalogue.minClearance) ?? Number.POSITIVE_INFINITY,
    lineage: rankOf.get(config.categories.lineage.minClearance) ?? Number.POSITIVE_INFINITY,
    usage: rankOf.get(config.categories.usage.minClearance) ?? Number.POSITIVE_INFINITY,
  };
  return Object.freeze({ config, rankOf, allowed: new Set(config.nationality.allowed), minRank: Object.freeze(minRank), orgs: new Set(config.orgs.allowed) });
}

function own(payload: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(payload, name) ? payload[name] : undefined;
}

/**
 * The latest clearance expiry accepted: the end of 9999-12-31 UTC, the last day an RFC 3339 date (four-digit year)
 * can name. The same bound applies to NumericDates, which matters: a millisecond timestamp sent where seconds are
 * expected (1.7e12 "seconds" is the year ~55 000) would otherwise turn a clearance that expired in 2020 into one
 * that never expires. Anything later is refused as clearance_claim_invalid, not read as "far future".
 */
export const MAX_CLEARANCE_EXPIRY_MS = 253_402_300_800_000;

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Epoch ms of a validated UTC calendar date and time (Date.UTC would read the years 0000–0099 as 1900–1999). */
function utcMs(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number {
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, s, 0);
  return t.getTime();
}

const inRange = (ms: number): number | null => (ms > 0 && ms <= MAX_CLEARANCE_EXPIRY_MS ? ms : null);

/**
 * Clearance expiry, as epoch ms, or null when the value is not one of:
 * - a NumericDate: a JSON number of whole seconds since the epoch. Fractions are refused (the IdP contract is whole
 *   seconds; a fraction means a different producer or unit). A whole number written with a fraction (1893456000.0)
 *   never gets here: the authenticator refuses such a token (findNumberProblem).
 * - an RFC 3339 full-date "YYYY-MM-DD", valid through the end of that day, UTC.
 * - an RFC 3339 date-time with "T", seconds, an optional fraction of up to 9 digits (read to the millisecond) and a
 *   "Z" or ±hh:mm offset. Without an offset the instant depends on a time zone nobody stated, so it is refused;
 *   leap seconds (":60") and hour 24 are refused too.
 * Every field is range-checked by hand (no Date.parse leniency), and the instant must lie after the epoch and no
 * later than MAX_CLEARANCE_EXPIRY_MS.
 */
export function parseClearanceExpiry(value: unknown): number | null {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) ? inRange(value * 1000) : null;
  }
  if (typeof value !== 'string') return null;
  let m = DATE_RE.exec(value);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return null;
    return inRange(utcMs(y, mo, d) + 86_400_000);
  }
  m = DATETIME_RE.exec(value);
  if (m) {
    const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m![i])) as [number, number, number, number, number, number];
    if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) return null;
    const ms = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0').slice(0, 3));
    let offsetMin = 0;
    if (m[8] !== undefined) {
      const [oh, om] = [Number(m[9]), Number(m[10])];
      if (oh > 23 || om > 59) return null;
      offsetMin = (m[8] === '-' ? -1 : 1) * (oh * 60 + om);
    }
    // local time = UTC + offset, so UTC = local time - offset
    return inRange(utcMs(y, mo, d, h, mi, s) + ms - offsetMin * 60_000);
  }
  return null;
}

/**
 * Characters a subject may not contain: controls (C0, DEL, C1), format characters (bidi overrides, zero-width joiners),
 * unpaired surrogates (which cannot be encoded for the upstream's identity header) and line or paragraph separators.
 * The subject is shown to the vendor (whoami), written to the audit trail and sent upstream.
 */
const SUBJECT_REFUSED = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

/**
 * Whether a claim's text may be shown and recorded: a non-empty string of at most 256 characters without the
 * characters SUBJECT_REFUSED names. Applies to every claim the gateway writes into the audit trail or sends on (sub,
 * jti, org); a token whose claim fails it is refused, and the record does not carry the text.
 */
export function isRecordableClaim(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 256 && !SUBJECT_REFUSED.test(value);
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return `a ${typeof value}`;
}

export function evaluateClaims(payload: Record<string, unknown>, policy: CompiledPolicy, now: number): ClaimsResult {
  const cfg = policy.config;
  const denials: Denial[] = [];
  const checks: CheckOutcome[] = [];
  const fail = (check: string, reason: DenyReason, detail: string) => {
    denials.push({ reason, detail });
    checks.push({ check, ok: false, detail });
  };
  const pass = (check: string, detail: string) => checks.push({ check, ok: true, detail });

  // subject
  const sub = own(payload, cfg.claims.subject);
  let subject: string | undefined;
  if (typeof sub === 'string' && sub.length > 0 && sub.trim() !== sub) {
    // " alice" and "alice" would be two subjects to the rate limit and to revocations, one person to an analyst
    fail('subject', 'token_invalid', `the "${cfg.claims.subject}" claim has leading or trailing white space, or nothing else`);
  } else if (isRecordableClaim(sub)) {
    subject = sub;
    pass('subject', `subject ${shown(sub, 128)}`);
  } else if (typeof sub === 'string' && sub.length > 0) {
    fail('subject', 'token_invalid', `the "${cfg.claims.subject}" claim is longer than 256 characters or contains control, format or line-separator characters or an unpaired surrogate`);
  } else fail('subject', 'token_invalid', `the "${cfg.claims.subject}" claim is ${describe(sub)}; a non-empty string is required`);

  // nationality
  let nationality: string | undefined;
  const natRaw = own(payload, cfg.claims.nationality);
  const natValues = Array.isArray(natRaw) ? natRaw : [natRaw];
  if (natRaw === undefined) fail('nationality', 'nationality_claim_invalid', `the "${cfg.claims.nationality}" claim is missing`);
  else if (Array.isArray(natRaw) && (cfg.nationality.arrayPolicy === 'reject' || natRaw.length === 0)) {
    fail('nationality', 'nationality_claim_invalid', `the "${cfg.claims.nationality}" claim is an array; a single country code is required`);
  } else {
    const parsed = natValues.map((v) => parseNationality(v, cfg.nationality.caseInsensitive));
    if (parsed.some((p) => !p.ok)) {
      fail('nationality', 'nationality_claim_invalid', `the "${cfg.claims.nationality}" claim must be an upper-case ISO 3166-1 country code`);
    } else {
      const codes = parsed.map((p) => (p.ok ? p.alpha2 : null));
      const allowedFlags = codes.map((c) => c !== null && policy.allowed.has(c));
      const accepted = cfg.nationality.arrayPolicy === 'any' ? allowedFlags.some(Boolean) : allowedFlags.every(Boolean);
      const shown = parsed.map((p) => (p.ok ? p.raw : '')).join(', ');
      if (accepted) {
        nationality = codes.find((c, i) => c !== null && allowedFlags[i]) ?? undefined;
        pass('nationality', `nationality ${shown} is allowed`);
      } else fail('nationality', 'nationality_not_allowed', `nationality ${shown} is not allowed; access requires ${[...policy.allowed].join(' or ')}`);
    }
  }

  // clearance level
  let clearance: string | undefined;
  let clearanceRank = -1;
  const clr = own(payload, cfg.claims.clearance);
  if (typeof clr === 'string' && policy.rankOf.has(clr)) {
    clearance = clr;
    clearanceRank = policy.rankOf.get(clr)!;
    pass('clearance', `clearance ${clr}`);
  } else if (cfg.clearance.acceptRanks && typeof clr === 'number' && Number.isInteger(clr) && clr >= 0 && clr < cfg.clearance.scale.length) {
    clearanceRank = clr === 0 ? 0 : clr; // JSON "-0" is rank 0
    clearance = cfg.clearance.scale[clr]!;
    pass('clearance', `clearance rank ${clr} (${clearance})`);
  } else {
    fail('clearance', 'clearance_claim_invalid', `the "${cfg.claims.clearance}" claim is ${typeof clr === 'string' ? 'not a level on the configured scale' : describe(clr)}; expected one of ${cfg.clearance.scale.join(', ')}`);
  }

  // clearance expiry
  let clearanceExpiresAt: number | undefined;
  const expRaw = own(payload, cfg.claims.clearanceExpiresAt);
  const exp = parseClearanceExpiry(expRaw);
  if (exp === null) {
    fail('clearance_expiry', 'clearance_claim_invalid', `the "${cfg.claims.clearanceExpiresAt}" claim is ${expRaw === undefined ? 'missing' : 'not a valid date'}`);
  } else if (exp <= now) {
    clearanceExpiresAt = exp;
    fail('clearance_expiry', 'clearance_expired', `your ${clearance ?? ''} clearance expired on ${new Date(exp).toISOString()}`.replace('  ', ' '));
  } else {
    clearanceExpiresAt = exp;
    pass('clearance_expiry', `clearance valid until ${new Date(exp).toISOString()}`);
  }

  // organisation
  let org: string | undefined;
  const orgRaw = own(payload, cfg.claims.org);
  if (orgRaw !== undefined && typeof orgRaw !== 'string') {
    fail('org', 'org_not_allowed', `the "${cfg.claims.org}" claim is ${describe(orgRaw)}; a string is required`);
  } else if (typeof orgRaw === 'string' && !isRecordableClaim(orgRaw)) {
    fail('org', 'org_not_allowed', `the "${cfg.claims.org}" claim is empty, longer than 256 characters or contains control, format or line-separator characters or an unpaired surrogate`);
  } else if (typeof orgRaw === 'string' && orgRaw.trim() !== orgRaw) {
    // "acme " would not be suspended with "acme"
    fail('org', 'org_not_allowed', `the "${cfg.claims.org}" claim has leading or trailing white space`);
  } else if (typeof orgRaw === 'string') {
    if (policy.orgs.size > 0 && !policy.orgs.has(orgRaw)) fail('org', 'org_not_allowed', `organisation ${shown(orgRaw, 64)} is not allowed`);
    else {
      org = orgRaw;
      pass('org', `organisation ${shown(orgRaw, 64)}`);
    }
  } else if (cfg.orgs.required || policy.orgs.size > 0) {
    // an allow-list a token passes by leaving the claim out would allow every organisation: with a list, the claim is
    // required whatever orgs.required says
    fail('org', 'org_not_allowed', `the "${cfg.claims.org}" claim is missing`);
  }

  const jtiRaw = own(payload, 'jti');
  const tokenExp = own(payload, 'exp');
  if (jtiRaw !== undefined && !isRecordableClaim(jtiRaw)) {
    fail('jti', 'token_invalid', typeof jtiRaw === 'string' && jtiRaw.length > 0 ? 'the "jti" claim is longer than 256 characters or contains control, format or line-separator characters or an unpaired surrogate' : 'the "jti" claim must be a non-empty string');
  }

  if (denials.length > 0 || subject === undefined || nationality === undefined || clearance === undefined || clearanceExpiresAt === undefined) {
    if (denials.length === 0) denials.push({ reason: 'token_invalid', detail: 'the token lacks a required identity claim' });
    return { denials, checks };
  }
  const identity: Identity = {
    subject,
    nationality,
    clearance,
    clearanceRank,
    clearanceExpiresAt,
    // the authenticator bounds exp; bare claims (admin explain) may not be: 0 stands for "no usable exp"
    tokenExpiresAt: typeof tokenExp === 'number' && inRange(tokenExp * 1000) !== null ? tokenExp * 1000 : 0,
  };
  if (org !== undefined) identity.org = org;
  if (typeof jtiRaw === 'string') identity.jti = jtiRaw;
  return { identity, denials, checks };
}

/** Per-category minimum clearance. */
export function checkCategory(identity: Identity, category: Category, policy: CompiledPolicy): Denial | null {
  const min = policy.minRank[category];
  if (identity.clearanceRank >= min) return null;
  const required = policy.config.categories[category].minClearance;
  return {
    reason: 'clearance_insufficient',
    detail: `clearance ${identity.clearance} is below ${required}, which ${category} endpoints require`,
  };
}

export function allowedCategories(identity: Identity, policy: CompiledPolicy): Category[] {
  return (['catalogue', 'lineage', 'usage'] as const).filter((c) => identity.clearanceRank >= policy.minRank[c]);
}
