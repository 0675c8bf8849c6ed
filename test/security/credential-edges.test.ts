// One credential, one spelling (DESIGN §3, §6 class 5): a second credential anywhere is refused, not ignored; a token
// has one canonical text and one fingerprint; numbers JSON would misread are refused; token text never reaches the
// audit trail, not even pasted into a URL; claims the record would carry are bounded and printable.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import type { RequestAuditRecord } from '../../src/observability/audit.js';
import { fingerprintOf } from '../../src/pipeline/authenticate.js';
import { signRawPayload } from '../helpers/raw-token.js';
import { AUDIENCE, ISSUER, startHarness, type Harness } from '../helpers/harness.js';
import { rawExchange, request, type SimpleResponse } from '../helpers/http.js';
import { CLASS, recordCases } from './summary.js';

const T = `/api/v1/tables/${DEMO_TABLE_ID}`;
const SUB = 'anna.devries@vendor.example';
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const nowS = () => Math.floor(Date.now() / 1000);
const signRaw = (payloadText: string) => signRawPayload(h.issuer, payloadText);
const claimsText = (extra = '', jti = `edge-${Math.random().toString(36).slice(2)}`) =>
  `{"iss":"${ISSUER}","aud":"${AUDIENCE}","iat":${nowS() - 10},"exp":${nowS() + 600},"jti":"${jti}","sub":"${SUB}","nationality":"NL","clearance":"STG_GEHEIM","clearance_expires_at":"2027-06-01"${extra}}`;

interface Outcome {
  res: SimpleResponse;
  rec: RequestAuditRecord;
  line: string;
  upstreamHits: number;
}

async function send(path: string, headers: Record<string, string>): Promise<Outcome> {
  const before = h.audit.requestRecords().length;
  const up = h.upstream.requests.length;
  const res = await request(h.vendorUrl, path, { headers });
  for (let i = 0; i < 100 && h.audit.requestRecords().length <= before; i++) await new Promise((r) => setTimeout(r, 10));
  expect(h.audit.requestRecords().length).toBe(before + 1);
  const lines = h.audit.lines.filter((l) => l.includes('"vendor_request"'));
  return { res, rec: h.audit.requestRecords()[before]!, line: lines[before]!, upstreamHits: h.upstream.requests.length - up };
}

function expectTokenInvalid(o: Outcome, detail: RegExp): void {
  expect(o.res.status).toBe(401);
  expect(o.res.json<{ code: string }>().code).toBe('token_invalid');
  expect(o.res.json<{ detail: string }>().detail).toMatch(detail);
  expect(o.rec.metagate.reasons).toEqual(['token_invalid']);
  expect(o.upstreamHits).toBe(0);
}

describe('a second credential is refused, not ignored', () => {
  it.each<[string, string, string]>([
    ['Proxy-Authorization', 'proxy-authorization', 'Bearer OTHER'],
    ['DPoP', 'dpop', 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln'],
    ['X-Auth-Token', 'x-auth-token', 'abc'],
    ['X-Forwarded-Access-Token', 'x-forwarded-access-token', 'abc'],
    ['X-Amzn-Oidc-Data', 'x-amzn-oidc-data', 'abc'],
    ['X-Api-Key', 'x-api-key', 'abc'],
  ])('%s beside the bearer token → 401 token_invalid', async (_d, name, value) => {
    recordCases(CLASS.token, 1);
    const o = await send(T, { authorization: `Bearer ${await h.token('geheim')}`, [name]: value });
    expectTokenInvalid(o, new RegExp(`a ${name} header besides the bearer token`));
    expect(o.line).not.toContain(value === 'abc' ? '"abc"' : value);
  });

  it.each<[string, (foreign: string) => string]>([
    ['a cookie named access_token', (t) => `access_token=${t}`],
    ['a cookie named Token among others', (t) => `theme=dark; Token=${t}`],
    ['a cookie named id_token', (t) => `id_token=${t}`],
    ['a JWT-shaped value under any cookie name', (t) => `prefs=${t}`],
    ['an Authorization cookie', (t) => `Authorization=Bearer ${t}`],
  ])('%s beside the bearer token → 401 token_invalid (the cookie holds a foreign token)', async (_d, cookie) => {
    recordCases(CLASS.token, 1);
    const foreign = await h.token('foreign');
    const o = await send(T, { authorization: `Bearer ${await h.token('geheim')}`, cookie: cookie(foreign) });
    expectTokenInvalid(o, /a cookie carrying a token besides the bearer token/);
    expect(o.line).not.toContain(foreign.split('.')[2]!);
  });

  it('a cookie of 5,000 "eyJ" (no token) is answered at once: the check is linear (review: it took 204 ms)', async () => {
    recordCases(CLASS.token, 1);
    const o = await send(T, { authorization: `Bearer ${await h.token('geheim')}`, cookie: `a=${'eyJ'.repeat(5000)}` });
    expect(o.res.status).toBe(200);
  });

  it('an ordinary cookie carries no credential: allowed (and never sent upstream)', async () => {
    recordCases(CLASS.token, 1);
    const o = await send(T, { authorization: `Bearer ${await h.token('geheim')}`, cookie: 'theme=dark; lang=nl' });
    expect(o.res.status).toBe(200);
    expect(o.upstreamHits).toBe(1);
    expect(h.upstream.requests.at(-1)!.headers.cookie).toBeUndefined();
  });

  it.each(['access_token', 'Access_Token', 'token', 'jwt', 'id_token', 'api_key'])('?%s=… → 401 token_invalid, whatever the endpoint accepts', async (key) => {
    recordCases(CLASS.token, 1);
    const token = await h.token('geheim');
    const o = await send(`${T}?${key}=${token}`, { authorization: `Bearer ${token}` });
    expectTokenInvalid(o, /never in the query string/);
    expect(o.line).not.toContain(token.split('.')[2]!);
  });

  it.each<[string, (t: string) => Record<string, string>, RegExp]>([
    ['a token only in a cookie named access_token', (t) => ({ cookie: `access_token=${t}` }), /carries a cookie carrying a token and no bearer token/],
    ['a token only in a cookie under any name', (t) => ({ cookie: `theme=dark; prefs=${t}` }), /carries a cookie carrying a token and no bearer token/],
    ['a token only in X-Api-Key', (t) => ({ 'x-api-key': t }), /carries a x-api-key header and no bearer token/],
    ['a token only in Proxy-Authorization', (t) => ({ 'proxy-authorization': `Bearer ${t}` }), /carries a proxy-authorization header and no bearer token/],
    ['a token only under a header name nobody lists', (t) => ({ 'x-pomerium-jwt-assertion': t }), /carries a header carrying a token and no bearer token/],
    ['an empty Authorization header and a token in a cookie', (t) => ({ authorization: '', cookie: `access_token=${t}` }), /carries a cookie carrying a token and no bearer token/],
  ])('%s → 401 token_missing that says where the credential was and where it belongs (review D2)', async (_d, headers, detail) => {
    recordCases(CLASS.token, 1);
    const token = await h.token('geheim');
    const o = await send(T, headers(token));
    expect(o.res.status).toBe(401);
    // RFC 6750 §3.1: no error code for a request that used a method the server does not take
    expect(o.res.headers['www-authenticate']).toBe('Bearer realm="metagate"');
    expect(o.res.json<{ code: string }>().code).toBe('token_missing');
    expect(o.res.json<{ detail: string }>().detail).toMatch(detail);
    expect(o.res.json<{ detail: string }>().detail).toMatch(/only as "Authorization: Bearer <token>"/);
    expect(o.rec.metagate.reasons).toEqual(['token_missing']);
    expect(o.rec.metagate.detail).toMatch(detail);
    expect(o.upstreamHits).toBe(0);
    expect(o.line).not.toContain(token.split('.')[2]!);
    expect(o.res.body).not.toContain(token.split('.')[2]!);
  });

  it('a cookie named like a credential, holding an opaque value, is named in the detail and its value is in neither the answer nor the record', async () => {
    recordCases(CLASS.token, 1);
    const opaque = 'opaque-session-7f3a9c1e5b';
    const o = await send(T, { cookie: `theme=dark; session_token=${opaque}` });
    expect(o.res.status).toBe(401);
    expect(o.res.json<{ code: string }>().code).toBe('token_missing');
    expect(o.res.json<{ detail: string }>().detail).toMatch(/carries a cookie carrying a token and no bearer token/);
    expect(o.rec.metagate.reasons).toEqual(['token_missing']);
    expect(o.upstreamHits).toBe(0);
    expect(o.res.body).not.toContain(opaque);
    expect(o.line).not.toContain(opaque);
  });

  it('no credential at all, or only an ordinary cookie: the generic token_missing detail', async () => {
    recordCases(CLASS.token, 2);
    for (const headers of [{}, { cookie: 'theme=dark; lang=nl' }] as Record<string, string>[]) {
      const o = await send(T, headers);
      expect(o.res.status).toBe(401);
      expect(o.res.json<{ code: string }>().code).toBe('token_missing');
      expect(o.res.json<{ detail: string }>().detail).toBe('send an access token from the identity provider as "Authorization: Bearer <token>"');
      expect(o.rec.metagate.reasons).toEqual(['token_missing']);
      expect(o.upstreamHits).toBe(0);
    }
  });

  it('a credential in the query string without an Authorization header is refused the same way', async () => {
    recordCases(CLASS.token, 1);
    const o = await send(`${T}?access_token=${await h.token('geheim')}`, {});
    expectTokenInvalid(o, /never in the query string/);
  });
});

describe('one token, one spelling, one fingerprint', () => {
  it('a signature whose last base64url character carries stray bits is refused', async () => {
    recordCases(CLASS.token, 1);
    const token = await h.token('geheim');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = token.at(-1)!;
    const twin = `${token.slice(0, -1)}${alphabet[alphabet.indexOf(last) ^ 1]}`;
    expect(Buffer.from(twin.split('.')[2]!, 'base64url')).toEqual(Buffer.from(token.split('.')[2]!, 'base64url'));
    expectTokenInvalid(await send(T, { authorization: `Bearer ${twin}` }), /not canonical base64url/);
  });

  it("an ECDSA signature's second valid form (s → n − s) gets the same fingerprint", async () => {
    recordCases(CLASS.token, 1);
    const token = await h.token('geheim');
    const sig = Buffer.from(token.split('.')[2]!, 'base64url');
    const s = BigInt(`0x${sig.subarray(32).toString('hex')}`);
    const high = Buffer.concat([sig.subarray(0, 32), Buffer.from((P256_N - s).toString(16).padStart(64, '0'), 'hex')]);
    const mirrored = `${token.slice(0, token.lastIndexOf('.'))}.${high.toString('base64url')}`;
    const a = await send(T, { authorization: `Bearer ${token}` });
    const b = await send(T, { authorization: `Bearer ${mirrored}` });
    // jose accepts both forms, as ECDSA allows; the record must name them as one token
    expect([a.res.status, b.res.status]).toEqual([200, 200]);
    expect(b.rec.metagate.token_fingerprint).toBe(a.rec.metagate.token_fingerprint);
    expect(a.rec.metagate.token_fingerprint).toBe(fingerprintOf(token));
  });
});

describe('numbers JSON would misread are refused', () => {
  it.each<[string, string]>([
    ['a whole number with a fraction', ',"clearance_rank":2.0'],
    ['a fraction that parses to a whole number', ',"clearance_rank":1.9999999999999999'],
    ['an exponent', ',"n":1e3'],
    ['an integer beyond 2^53', ',"n":9007199254740993'],
    ['a negative integer beyond -2^53', ',"n":-9007199254740993'],
  ])('%s → 401 token_invalid', async (_d, extra) => {
    recordCases(CLASS.claim, 1);
    expectTokenInvalid(await send(T, { authorization: `Bearer ${await signRaw(claimsText(extra))}` }), /ambiguous number/);
  });

  it.each<[string, string]>([
    ['a plain fraction', ',"score":0.5'],
    ['a safe integer', ',"n":9007199254740991'],
    ['minus zero', ',"n":-0'],
    ['digits inside a string', ',"note":"1e3 2.0 9007199254740993"'],
  ])('%s is fine', async (_d, extra) => {
    recordCases(CLASS.claim, 1);
    const o = await send(T, { authorization: `Bearer ${await signRaw(claimsText(extra))}` });
    expect(o.res.status).toBe(200);
  });
});

describe('claims the record carries are bounded and printable', () => {
  it.each<[string, string, string]>([
    ['a jti over 256 characters', `"jti":"${'j'.repeat(300)}"`, 'token_invalid'],
    ['a jti with a line break', '"jti":"a\\nb"', 'token_invalid'],
    ['a jti with a bidi override', '"jti":"a\\u202eb"', 'token_invalid'],
    ['an org with a bidi override', '"org":"ven\\u202edor"', 'org_not_allowed'],
    ['an org over 256 characters', `"org":"${'o'.repeat(300)}"`, 'org_not_allowed'],
    ['an empty org', '"org":""', 'org_not_allowed'],
  ])('%s is refused, and the text is not recorded', async (_d, claim, reason) => {
    recordCases(CLASS.claim, 1);
    const text = claimsText().replace(/"jti":"[^"]*"/, claim.startsWith('"jti"') ? claim : '"jti":"ok-jti"');
    const token = await signRaw(claim.startsWith('"jti"') ? text : `${text.slice(0, -1)},${claim}}`);
    const o = await send(T, { authorization: `Bearer ${token}` });
    expect(o.res.status).toBe(reason === 'token_invalid' ? 401 : 403);
    expect(o.rec.metagate.reasons).toContain(reason);
    expect(o.line).not.toMatch(/\u202e|j{257}|o{257}/);
    if (claim.startsWith('"jti"')) expect(o.rec.metagate.token_id).toBeUndefined();
    expect(o.upstreamHits).toBe(0);
  });

  it('a word that merely contains "eyJ" is recorded as it is (review: surveyJobs became surv[token])', async () => {
    recordCases(CLASS.path, 1);
    const o = await send('/api/v1/tables/name/warehouse.surveyJobs.results', { authorization: `Bearer ${await h.token('geheim')}` });
    expect(o.rec.url.path).toBe('/api/v1/tables/name/warehouse.surveyJobs.results');
  });

  it('a refused token whose sub has a bidi override is recorded without user.id', async () => {
    recordCases(CLASS.claim, 1);
    const o = await send(T, { authorization: `Bearer ${await signRaw(claimsText().replace(`"sub":"${SUB}"`, '"sub":"anna\\u202e"'))}` });
    expect(o.res.status).toBe(401);
    expect(o.rec.user).toBeUndefined();
    expect(o.line).not.toContain('\u202e');
  });
});

describe('token text pasted into a URL never reaches the audit trail', () => {
  // a refused target is cut at 256 characters before it is recorded, so a long token's tail is cut, not shown
  const CUT = '(\\[\\d+ more characters not recorded\\])?';
  it.each<[string, (t: string) => string, RegExp]>([
    ['as a path segment (route_not_allowed, canonical path recorded)', (t) => `/api/v1/tables/${t}`, /^\/api\/v1\/tables\/\[token\]$/],
    ['under an allowed template (name lookup)', (t) => `/api/v1/tables/name/${t}`, /^\/api\/v1\/tables\/name\/\[token\]$/],
    ['with its dots percent-encoded, in a refused target', (t) => `/api/v1/tables/${t.replaceAll('.', '%2E')}/..`, new RegExp(`^/api/v1/tables/\\[token\\]${CUT}$`)],
    ['with its letters percent-encoded, in a refused target', (t) => `/api/v1/tables/%65${t.slice(1).replace('.e', '.%65')}/..`, new RegExp(`^\\[a target holding a token is not recorded\\]${CUT}$`)],
  ])('%s', async (_d, path, shown) => {
    recordCases(CLASS.path, 1);
    const token = await h.token('geheim');
    const before = h.audit.lines.length;
    const raw = await rawExchange(h.vendorPort, `GET ${path(token)} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`);
    expect(raw.status).toBeGreaterThanOrEqual(400);
    for (let i = 0; i < 50 && h.audit.lines.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    const line = h.audit.lines.findLast((l) => l.includes('"vendor_request"'))!;
    const rec = JSON.parse(line) as RequestAuditRecord;
    expect(rec.url.path ?? rec.url.original).toMatch(shown);
    for (const part of token.split('.')) expect(line).not.toContain(part.slice(1));
  });
});
