// Pure identity checks on a verified token's claims: subject, nationality, clearance, clearance expiry, organisation.

import type { PolicyConfig } from '../config/types.js';
import { parseNationality } from './nationality.js';
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
  detail: string;
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

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Clearance expiry: a NumericDate (integer seconds since the epoch, as a JSON number) or an RFC 3339 string — a
 * full date (valid through the end of that day, UTC) or a date-time with an offset. Anything else is invalid.
 */
export function parseClearanceExpiry(value: unknown): number | null {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value > 0 ? value * 1000 : null;
  }
  if (typeof value !== 'string') return null;
  let m = DATE_RE.exec(value);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const t = Date.UTC(y, mo - 1, d);
    const back = new Date(t);
    if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null;
    return t + 86_400_000;
  }
  m = DATETIME_RE.exec(value);
  if (m) {
    const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m![i]));
    const probe = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
    if (probe.getUTCMonth() !== mo! - 1 || probe.getUTCDate() !== d! || h! > 23 || mi! > 59 || s! > 59) return null;
    const t = Date.parse(value);
    return Number.isFinite(t) ? t : null;
  }
  return null;
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
  if (typeof sub === 'string' && sub.length > 0 && sub.length <= 256 && !/[\u0000-\u001f\u007f]/.test(sub)) {
    subject = sub;
    pass('subject', `subject "${sub}"`);
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
    clearanceRank = clr;
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
  } else if (typeof orgRaw === 'string') {
    if (policy.orgs.size > 0 && !policy.orgs.has(orgRaw)) fail('org', 'org_not_allowed', `organisation "${orgRaw}" is not allowed`);
    else {
      org = orgRaw;
      pass('org', `organisation "${orgRaw}"`);
    }
  } else if (cfg.orgs.required) fail('org', 'org_not_allowed', `the "${cfg.claims.org}" claim is missing`);

  const jtiRaw = own(payload, 'jti');
  const tokenExp = own(payload, 'exp');
  if (jtiRaw !== undefined && (typeof jtiRaw !== 'string' || jtiRaw.length === 0 || jtiRaw.length > 256)) {
    fail('jti', 'token_invalid', 'the "jti" claim must be a non-empty string');
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
    tokenExpiresAt: typeof tokenExp === 'number' ? tokenExp * 1000 : 0,
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
