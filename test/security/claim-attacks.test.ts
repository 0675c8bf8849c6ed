// Claim attacks through the whole gateway (DESIGN §6.6): validly signed tokens whose identity claims are wrong,
// ambiguous or look-alikes. Status + problem code + nothing forwarded + one audit record naming the reason.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_TABLE_ID } from '../../src/demo/platform.js';
import type { RequestAuditRecord } from '../../src/observability/audit.js';
import type { DenyReason } from '../../src/policy/reasons.js';
import { signRawPayload } from '../helpers/raw-token.js';
import { AUDIENCE, ISSUER, startHarness, type Harness } from '../helpers/harness.js';
import { request, type SimpleResponse } from '../helpers/http.js';
import { recordCases } from './summary.js';

/** DESIGN §6 class 6 (summary.ts has no CLASS entry for it yet) */
const CLAIM_CLASS = '6 claim attacks';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0); // 2026-06-01T12:00:00Z
let clock = T0;
const nowS = () => Math.floor(clock / 1000);
const CATALOGUE = '/api/v1/tables';
const LINEAGE = `/api/v1/lineage/table/${DEMO_TABLE_ID}`;
const USAGE = `/api/v1/usage/table/${DEMO_TABLE_ID}`;

let h: Harness;

const GOOD = { sub: 'anna.devries@vendor.example', nationality: 'NL', clearance: 'STG_GEHEIM', clearance_expires_at: '2027-06-01', org: 'vendor' };
const ABSENT = Symbol('absent');
function identity(over: Record<string, unknown>): Record<string, unknown> {
  const c: Record<string, unknown> = { ...GOOD };
  for (const [k, v] of Object.entries(over)) {
    if (v === ABSENT) delete c[k];
    else c[k] = v;
  }
  return c;
}

/** sign raw payload text (for duplicate keys and __proto__, which no JSON serialiser writes) */
const signRaw = (payloadText: string) => signRawPayload(h.issuer, payloadText);
const registered = () => `"iss":"${ISSUER}","aud":"${AUDIENCE}","iat":${nowS() - 10},"exp":${nowS() + 600},"jti":"raw-${Math.random().toString(36).slice(2)}","sub":"anna.devries@vendor.example","clearance":"STG_GEHEIM","clearance_expires_at":"2027-06-01"`;

async function waitForRecords(n: number): Promise<RequestAuditRecord[]> {
  const deadline = Date.now() + 3000;
  while (h.audit.requestRecords().length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
  return h.audit.requestRecords();
}

interface Outcome {
  res: SimpleResponse;
  forwarded: number;
  records: RequestAuditRecord[];
}
async function send(token: string, path = CATALOGUE): Promise<Outcome> {
  const up = h.upstream.requests.length;
  const before = h.audit.requestRecords().length;
  const res = await request(h.vendorUrl, path, { headers: { authorization: `Bearer ${token}` } });
  const all = await waitForRecords(before + 1);
  return { res, forwarded: h.upstream.requests.length - up, records: all.slice(before) };
}

function expectRefused(o: Outcome, status: number, codes: DenyReason[]): { detail: string; reasons?: string[] } {
  expect(o.res.status, o.res.body).toBe(status);
  const body = o.res.json<{ code: string; detail: string; reasons?: string[]; request_id: string }>();
  expect(body.code).toBe(codes[0]);
  if (codes.length > 1) expect(body.reasons).toEqual(codes);
  expect(o.forwarded).toBe(0);
  expect(o.records).toHaveLength(1);
  const rec = o.records[0]!;
  expect(rec.metagate.decision).toBe('deny');
  expect(rec.metagate.reasons).toEqual(codes);
  expect(rec.http.response.status_code).toBe(status);
  expect(rec.http.request.id).toBe(body.request_id);
  if (codes[0] === 'clearance_insufficient') {
    // the identity itself was accepted, only not for this category: the record says whose clearance fell short
    expect(rec.metagate.clearance).toBeDefined();
  } else {
    // a refused identity is never written down as if it had been accepted
    expect(rec.metagate.nationality).toBeUndefined();
    expect(rec.metagate.clearance).toBeUndefined();
  }
  return body;
}

function expectAllowed(o: Outcome): RequestAuditRecord {
  expect(o.res.status, o.res.body).toBe(200);
  expect(o.forwarded).toBe(1);
  expect(o.records).toHaveLength(1);
  expect(o.records[0]!.metagate.decision).toBe('allow');
  return o.records[0]!;
}

beforeAll(async () => {
  h = await startHarness({ now: () => clock });
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => {
  clock += 1000;
});

type Row = [name: string, over: Record<string, unknown>, code: DenyReason];

const ROWS: Row[] = [
  // nationality
  ['nationality US', { nationality: 'US' }, 'nationality_not_allowed'],
  ['nationality USA', { nationality: 'USA' }, 'nationality_not_allowed'],
  ['nationality NLX (contains NL)', { nationality: 'NLX' }, 'nationality_not_allowed'],
  ['nationality XNL', { nationality: 'XNL' }, 'nationality_not_allowed'],
  ['nationality nl (lower case)', { nationality: 'nl' }, 'nationality_claim_invalid'],
  ['nationality "NL "', { nationality: 'NL ' }, 'nationality_claim_invalid'],
  ['nationality " NL"', { nationality: ' NL' }, 'nationality_claim_invalid'],
  ['nationality NL,BE', { nationality: 'NL,BE' }, 'nationality_claim_invalid'],
  ['nationality "NL\\u0000"', { nationality: 'NL\u0000' }, 'nationality_claim_invalid'],
  ['nationality ["NL"] (arrays refused by default)', { nationality: ['NL'] }, 'nationality_claim_invalid'],
  ['nationality ["NL","US"]', { nationality: ['NL', 'US'] }, 'nationality_claim_invalid'],
  ['nationality []', { nationality: [] }, 'nationality_claim_invalid'],
  ['nationality 528 (ISO numeric)', { nationality: 528 }, 'nationality_claim_invalid'],
  ['nationality true', { nationality: true }, 'nationality_claim_invalid'],
  ['nationality null', { nationality: null }, 'nationality_claim_invalid'],
  ['nationality {"code":"NL"}', { nationality: { code: 'NL' } }, 'nationality_claim_invalid'],
  ['nationality missing', { nationality: ABSENT }, 'nationality_claim_invalid'],
  // clearance
  ['clearance stg_geheim', { clearance: 'stg_geheim' }, 'clearance_claim_invalid'],
  ['clearance "STG_GEHEIM "', { clearance: 'STG_GEHEIM ' }, 'clearance_claim_invalid'],
  ['clearance "2"', { clearance: '2' }, 'clearance_claim_invalid'],
  ['clearance "10"', { clearance: '10' }, 'clearance_claim_invalid'],
  ['clearance " 4 "', { clearance: ' 4 ' }, 'clearance_claim_invalid'],
  ['clearance "1e3"', { clearance: '1e3' }, 'clearance_claim_invalid'],
  ['clearance "0x2"', { clearance: '0x2' }, 'clearance_claim_invalid'],
  ['clearance 2 (ranks not in use)', { clearance: 2 }, 'clearance_claim_invalid'],
  ['clearance ["STG_GEHEIM"]', { clearance: ['STG_GEHEIM'] }, 'clearance_claim_invalid'],
  ['clearance {"level":"STG_GEHEIM"}', { clearance: { level: 'STG_GEHEIM' } }, 'clearance_claim_invalid'],
  ['clearance NATO_SECRET (another scale)', { clearance: 'NATO_SECRET' }, 'clearance_claim_invalid'],
  ['clearance missing', { clearance: ABSENT }, 'clearance_claim_invalid'],
  // clearance expiry
  ['clearance expired yesterday', { clearance_expires_at: '2026-05-31' }, 'clearance_expired'],
  ['clearance expiring exactly now', { clearance_expires_at: nowS }, 'clearance_expired'],
  ['clearance expiry a numeric string', { clearance_expires_at: '1893456000' }, 'clearance_claim_invalid'],
  ['clearance expiry 2026-02-30', { clearance_expires_at: '2026-02-30' }, 'clearance_claim_invalid'],
  ['clearance expiry without a UTC offset', { clearance_expires_at: '2027-01-01T00:00:00' }, 'clearance_claim_invalid'],
  ['clearance expiry in milliseconds (1.6e12, an instant in 2020)', { clearance_expires_at: Date.UTC(2020, 0, 1) }, 'clearance_claim_invalid'],
  ['clearance expiry 1e13', { clearance_expires_at: 1e13 }, 'clearance_claim_invalid'],
  ['clearance expiry ["2027-06-01"]', { clearance_expires_at: ['2027-06-01'] }, 'clearance_claim_invalid'],
  ['clearance expiry missing', { clearance_expires_at: ABSENT }, 'clearance_claim_invalid'],
  // subject and organisation
  ['sub with a newline (log forging)', { sub: 'anna\n{"decision":"allow"}' }, 'token_invalid'],
  // a lone surrogate could not be encoded for the upstream's identity header (it was a 500 with identityHeaders on)
  ['sub with an unpaired surrogate', { sub: 'anna\ud800' }, 'token_invalid'],
  ['sub with a right-to-left override (bidi spoofing in whoami and the audit trail)', { sub: 'anna\u202e@evil' }, 'token_invalid'],
  ['sub with a line separator U+2028', { sub: 'anna\u2028x' }, 'token_invalid'],
  ['sub with a C1 control U+0085 (next line)', { sub: 'anna\u0085x' }, 'token_invalid'],
  ['sub with a zero-width joiner', { sub: 'an\u200dna.devries@vendor.example' }, 'token_invalid'],
  ['org an array', { org: ['vendor'] }, 'org_not_allowed'],
  // review finding: "vendor " would escape a suspension of "vendor" (no org allowlist in this configuration)
  ['org with a trailing space', { org: 'vendor ' }, 'org_not_allowed'],
  ['org with a leading no-break space', { org: '\u00a0vendor' }, 'org_not_allowed'],
];

describe('claim attacks through the gateway', () => {
  it('control: NL / STG_GEHEIM is allowed; the audit record names the accepted identity', async () => {
    const rec = expectAllowed(await send(await h.token(identity({}))));
    expect(rec.metagate).toMatchObject({ nationality: 'NL', clearance: 'STG_GEHEIM', clearance_expires_at: '2027-06-02T00:00:00.000Z' });
    expect(rec.user?.id).toBe(GOOD.sub);
  });

  it('control: NLD is the same as NL, and recorded as NL', async () => {
    const rec = expectAllowed(await send(await h.token(identity({ nationality: 'NLD' }))));
    expect(rec.metagate.nationality).toBe('NL');
  });

  it.each(ROWS)('%s → %s', async (_name, over, code) => {
    const resolved = Object.fromEntries(Object.entries(over).map(([k, v]) => [k, typeof v === 'function' ? (v as () => unknown)() : v]));
    const status = code === 'token_invalid' ? 401 : 403;
    expectRefused(await send(await h.token(identity(resolved))), status, [code]);
    recordCases(CLAIM_CLASS, 1);
  });

  it('a duplicate nationality key (US, then NL) is refused before any claim is read', async () => {
    const o = await send(await signRaw(`{${registered()},"nationality":"US","nationality":"NL"}`));
    expectRefused(o, 401, ['token_invalid']);
    expect(o.res.json<{ detail: string }>().detail).toMatch(/"nationality" appears twice/);
    recordCases(CLAIM_CLASS, 1);
  });

  it('a "__proto__" member carrying the nationality is refused', async () => {
    expectRefused(await send(await signRaw(`{${registered()},"__proto__":{"nationality":"NL"}}`)), 401, ['token_invalid']);
    recordCases(CLAIM_CLASS, 1);
  });

  it('a nationality key spelled with an escape, next to the plain one, is refused', async () => {
    expectRefused(await send(await signRaw(`{${registered()},"nationality":"US","n\\u0061tionality":"NL"}`)), 401, ['token_invalid']);
    recordCases(CLAIM_CLASS, 1);
  });
});

describe('per-category minimum clearance through the gateway', () => {
  it('STG_CONFIDENTIEEL may read the catalogue and usage but not lineage, with the exact sentence', async () => {
    const t = await h.token(identity({ clearance: 'STG_CONFIDENTIEEL' }));
    expectAllowed(await send(t, CATALOGUE));
    expectAllowed(await send(t, USAGE));
    const body = expectRefused(await send(t, LINEAGE), 403, ['clearance_insufficient']);
    expect(body.detail).toBe('clearance STG_CONFIDENTIEEL is below STG_GEHEIM, which lineage endpoints require');
    recordCases(CLAIM_CLASS, 1);
  });

  it('STG_GEHEIM may read lineage', async () => {
    expectAllowed(await send(await h.token(identity({})), LINEAGE));
  });

  it('DEPARTEMENTAAL_VERTROUWELIJK may read nothing', async () => {
    const t = await h.token(identity({ clearance: 'DEPARTEMENTAAL_VERTROUWELIJK' }));
    for (const [path, cat] of [[CATALOGUE, 'catalogue'], [USAGE, 'usage']] as const) {
      const body = expectRefused(await send(t, path), 403, ['clearance_insufficient']);
      expect(body.detail).toBe(`clearance DEPARTEMENTAAL_VERTROUWELIJK is below STG_CONFIDENTIEEL, which ${cat} endpoints require`);
    }
    recordCases(CLAIM_CLASS, 2);
  });
});

describe('several failures at once', () => {
  it('every failed claim is reported, in the answer and in the single audit record', async () => {
    const o = await send(await h.token(identity({ nationality: 'US', clearance: '2', clearance_expires_at: '2020-01-01' })));
    const body = expectRefused(o, 403, ['nationality_not_allowed', 'clearance_claim_invalid', 'clearance_expired']);
    expect(body.detail).toContain('nationality US is not allowed');
    expect(body.detail).toContain('"clearance" claim');
    expect(body.detail).toContain('expired on 2020-01-02T00:00:00.000Z');
    recordCases(CLAIM_CLASS, 1);
  });

  it('a clearance that expires while the (cached) token is still valid is refused from that instant on', async () => {
    const expiresAt = nowS() + 5;
    const t = await h.token(identity({ clearance_expires_at: expiresAt }));
    expectAllowed(await send(t));
    expectAllowed(await send(t)); // served from the verified-token cache
    clock = expiresAt * 1000;
    expectRefused(await send(t), 403, ['clearance_expired']);
    recordCases(CLAIM_CLASS, 1);
  });
});
