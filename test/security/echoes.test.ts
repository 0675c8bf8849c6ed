// What a refusal repeats of the request. Details name the problem; a value taken from an unverified (or merely signed)
// token is quoted only when it is short printable ASCII, so line breaks, bidi controls and look-alikes never reach the
// vendor's screen or a SOC analyst's view of the audit trail.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shown } from '../../src/errors.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { request } from '../helpers/http.js';
import { CLASS, recordCases } from './summary.js';

const b64 = (s: string) => Buffer.from(s).toString('base64url');
const HOSTILE = '\n\u202eFAKE decision=allow reason=none';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    configure: (c) => {
      c.policy.orgs = { allowed: ['vendor'] };
      c.upstream.identityHeaders = true;
    },
  });
});
afterAll(async () => {
  await h?.close();
});

async function refusal(token: string): Promise<{ status: number; code: string; detail: string; recorded: string }> {
  const before = h.audit.requestRecords().length;
  const res = await request(h.vendorUrl, '/api/v1/tables', { headers: { authorization: `Bearer ${token}` } });
  for (let i = 0; i < 100 && h.audit.requestRecords().length <= before; i++) await new Promise((r) => setTimeout(r, 10));
  const body = res.json<{ code: string; detail: string }>();
  return { status: res.status, code: body.code, detail: body.detail, recorded: h.audit.requestRecords()[before]!.metagate.detail ?? '' };
}

const clean = (s: string) => expect(s).not.toMatch(/[\n\r\u202e]|FAKE/);

describe('values from a token are not echoed raw', () => {
  it.each<[string, () => Promise<string>, number, string, RegExp]>([
    ['a duplicated payload key with a line break and a bidi override (unsigned: the check runs before the signature)',
      async () => `${b64(JSON.stringify({ alg: 'ES256', kid: 'test-key-1', typ: 'at+jwt' }))}.${b64(`{"sub":"a",${JSON.stringify(HOSTILE)}:1,${JSON.stringify(HOSTILE)}:2}`)}.AAAA`,
      401, 'token_invalid', /^the token payload is ambiguous: the key \(\d+ characters, not shown\) appears twice$/],
    ['an alg with a line break and a bidi override',
      async () => `${b64(JSON.stringify({ alg: '\n\u202eX', kid: 'test-key-1' }))}.${b64('{"sub":"a"}')}.AAAA`,
      401, 'token_invalid', /^signing algorithm \(\d+ characters, not shown\) is not accepted$/],
    ['a signed org claim of 3,000 characters with a bidi override',
      () => h.token({ sub: 'anna.devries@vendor.example', nationality: 'NL', clearance: 'STG_GEHEIM', clearance_expires_at: '2099-01-01', org: `${HOSTILE}${'x'.repeat(3000)}` }),
      // refused for its shape before the allow-list is consulted: the sentence names the rule, never the value
      403, 'org_not_allowed', /^the "org" claim is empty, longer than 256 characters or contains control, format or line-separator characters or an unpaired surrogate$/],
  ])('%s', async (_d, token, status, code, detail) => {
    recordCases(CLASS.token, 1);
    const r = await refusal(await token());
    expect([r.status, r.code]).toEqual([status, code]);
    expect(r.detail).toMatch(detail);
    clean(r.detail);
    clean(r.recorded);
  });

  it('a plain value is still quoted, so the refusal stays specific', async () => {
    recordCases(CLASS.token, 1);
    const r = await refusal(await h.token({ sub: 'anna.devries@vendor.example', nationality: 'NL', clearance: 'STG_GEHEIM', clearance_expires_at: '2099-01-01', org: 'partner' }));
    expect(r.detail).toBe('organisation "partner" is not allowed');
  });

  it('with identity headers on, a subject with an unpaired surrogate is refused as token_invalid, not a 500', async () => {
    recordCases(CLASS.claim, 1);
    const r = await refusal(await h.token({ sub: 'anna\ud800', nationality: 'NL', clearance: 'STG_GEHEIM', clearance_expires_at: '2099-01-01', org: 'vendor' }));
    expect([r.status, r.code]).toEqual([401, 'token_invalid']);
  });
});

describe('shown()', () => {
  it.each<[string, number, string]>([
    ['ES256', 16, '"ES256"'],
    ['nationality', 64, '"nationality"'],
    ['a b', 16, '(3 characters, not shown)'],
    ['a"b', 16, '(3 characters, not shown)'],
    ['a\\b', 16, '(3 characters, not shown)'],
    ['x'.repeat(17), 16, '(17 characters, not shown)'],
    ['\u202e', 16, '(1 character, not shown)'],
    ['é', 16, '(1 character, not shown)'],
    ['', 16, '(0 characters, not shown)'],
  ])('%j (max %d) → %s', (value, max, out) => {
    expect(shown(value, max)).toBe(out);
  });
});
