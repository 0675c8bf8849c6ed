// Token attacks through the whole gateway (DESIGN §6.5): status, problem code, nothing forwarded, one audit record.
//
// One harness for the file on a controllable clock, so lifetime cases are exact and the verified-token cache and key
// rotation can be driven end to end without sleeping.

import { createHmac, webcrypto } from 'node:crypto';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AUDIENCE, ISSUER, startHarness, type Harness } from '../helpers/harness.js';
import { request, type SimpleResponse } from '../helpers/http.js';
import type { RequestAuditRecord } from '../../src/observability/audit.js';
import type { DenyReason } from '../../src/policy/reasons.js';
import { recordCases } from './summary.js';

/** DESIGN §6 class 5 (summary.ts has no CLASS entry for it yet) */
const TOKEN_CLASS = '5 token attacks';

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
let clock = T0;
const nowS = () => Math.floor(clock / 1000);
const PATH = '/api/v1/tables';

let h: Harness;
let attacker: { privateKey: CryptoKey; jwk: JWK };
let rsa: { privateKey: CryptoKey; jwk: JWK };

// ---------------------------------------------------------------- crafting (raw JSON text, WebCrypto signatures)

const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64url');
const text = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
type Signer = (input: string) => Promise<string>;
const ec = (key: CryptoKey): Signer => async (input) => b64(new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key as unknown as webcrypto.CryptoKey, Buffer.from(input))));
const rs = (key: CryptoKey): Signer => async (input) => b64(new Uint8Array(await webcrypto.subtle.sign({ name: 'RSASSA-PKCS1-v1_5' }, key as unknown as webcrypto.CryptoKey, Buffer.from(input))));
const hmac = (secret: string): Signer => async (input) => createHmac('sha256', secret).update(input).digest('base64url');

async function craft(header: unknown, payload: unknown, sign?: Signer): Promise<string> {
  const input = `${b64(text(header))}.${b64(text(payload))}`;
  return `${input}.${await (sign ?? ec(h.issuer.privateKey))(input)}`;
}
const HDR = { alg: 'ES256', kid: 'test-key-1', typ: 'at+jwt' };
function claims(over: Record<string, unknown> = {}, omit: string[] = []): Record<string, unknown> {
  const c: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'anna.devries@vendor.example',
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    iat: nowS() - 60,
    exp: nowS() + 600,
    nationality: 'NL',
    clearance: 'STG_GEHEIM',
    clearance_expires_at: '2027-06-01',
    org: 'vendor',
    ...over,
  };
  for (const k of omit) delete c[k];
  return c;
}
/** the same claims as raw JSON text, with `extra` spliced in before the closing brace */
const rawClaims = (extra: string) => `${JSON.stringify(claims()).slice(0, -1)},${extra}}`;

// ---------------------------------------------------------------- one request, everything it should (not) cause

async function waitForRecords(n: number): Promise<RequestAuditRecord[]> {
  const deadline = Date.now() + 3000;
  while (h.audit.requestRecords().length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20)); // anything extra would have arrived by now
  return h.audit.requestRecords();
}

interface Outcome {
  res: SimpleResponse;
  forwarded: number;
  records: RequestAuditRecord[];
}

async function send(headers: Record<string, string | string[]>, path = PATH): Promise<Outcome> {
  const up = h.upstream.requests.length;
  const before = h.audit.requestRecords().length;
  const res = await request(h.vendorUrl, path, { headers });
  const all = await waitForRecords(before + 1);
  return { res, forwarded: h.upstream.requests.length - up, records: all.slice(before) };
}

function expectRefused(o: Outcome, status: number, code: DenyReason, token?: string): void {
  expect(o.res.status, o.res.body).toBe(status);
  expect(o.res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = o.res.json<{ code: string; status: number; detail: string; request_id: string }>();
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  // RFC 9110 §15.5.2: every 401 carries a challenge; RFC 6750 §3: "invalid_token" unless no credential was sent
  if (status === 401) expect(o.res.headers['www-authenticate']).toBe(code === 'token_missing' ? 'Bearer realm="metagate"' : 'Bearer realm="metagate", error="invalid_token"');
  else expect(o.res.headers['www-authenticate']).toBeUndefined();
  expect(o.forwarded).toBe(0);
  expect(o.records).toHaveLength(1);
  const rec = o.records[0]!;
  expect(rec.metagate.decision).toBe('deny');
  expect(rec.metagate.reasons[0]).toBe(code);
  expect(rec.http.response.status_code).toBe(status);
  expect(rec.http.request.id).toBe(body.request_id);
  if (token) {
    // neither the answer nor the audit trail carries the token (its signature is the secret part)
    const sig = token.split('.')[2];
    if (sig && sig.length > 8) {
      expect(o.res.body).not.toContain(sig);
      expect(JSON.stringify(rec)).not.toContain(sig);
    }
  }
}

function expectAllowed(o: Outcome): void {
  expect(o.res.status, o.res.body).toBe(200);
  expect(o.forwarded).toBe(1);
  expect(o.records).toHaveLength(1);
  expect(o.records[0]!.metagate.decision).toBe('allow');
}

beforeAll(async () => {
  h = await startHarness({ now: () => clock });
  const a = await generateKeyPair('ES256', { extractable: true });
  attacker = { privateKey: a.privateKey, jwk: { ...(await exportJWK(a.publicKey)), kid: 'test-key-1', alg: 'ES256' } };
  const r = await generateKeyPair('RS256', { extractable: true });
  rsa = { privateKey: r.privateKey, jwk: { ...(await exportJWK(r.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' } };
  // publish the RSA key as well: an RS256 token is then refused for its algorithm alone
  h.jwks.serve = { keys: [...h.issuer.jwks.keys, rsa.jwk] };
  await h.gateway.gateway.keys.refresh();
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => {
  clock += 10_000; // past the JWKS cool-down (1 s) between tests, and a fresh second for every token
});

// ---------------------------------------------------------------- the table

interface Case {
  name: string;
  status: number;
  code: DenyReason;
  headers: () => Promise<Record<string, string | string[]>>;
  path?: string;
}
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const tok = (name: string, status: number, code: DenyReason, token: () => Promise<string>, path?: string): Case => ({ name, status, code, headers: async () => bearer(await token()), ...(path ? { path } : {}) });

const CASES: Case[] = [
  { name: 'no Authorization header', status: 401, code: 'token_missing', headers: async () => ({}) },
  { name: 'token only in a cookie', status: 401, code: 'token_missing', headers: async () => ({ cookie: `access_token=${await h.token('geheim')}` }) },
  { name: 'Basic credentials', status: 401, code: 'token_invalid', headers: async () => ({ authorization: `Basic ${Buffer.from('anna:secret').toString('base64')}` }) },
  { name: 'Bearer with two spaces', status: 401, code: 'token_invalid', headers: async () => ({ authorization: `Bearer  ${await h.token('geheim')}` }) },
  { name: 'empty bearer', status: 401, code: 'token_invalid', headers: async () => ({ authorization: 'Bearer ' }) },
  { name: 'two Authorization headers, both valid', status: 401, code: 'token_invalid', headers: async () => ({ authorization: [`Bearer ${await h.token('geheim')}`, `Bearer ${await h.token('geheim')}`] }) },
  { name: 'two Authorization headers, the second one foreign', status: 401, code: 'token_invalid', headers: async () => ({ authorization: [`Bearer ${await h.token('geheim')}`, `Bearer ${await h.token('foreign')}`] }) },
  tok('alg none', 401, 'token_invalid', async () => `${b64(text({ alg: 'none', typ: 'at+jwt' }))}.${b64(text(claims()))}.`),
  tok('alg none with a one-byte signature', 401, 'token_invalid', async () => `${b64(text({ alg: 'none', typ: 'at+jwt' }))}.${b64(text(claims()))}.AA`),
  tok('HS256 keyed with the public JWK', 401, 'token_invalid', () => craft({ ...HDR, alg: 'HS256' }, claims(), hmac(JSON.stringify(h.issuer.jwks.keys[0])))),
  tok('RS256 (published key) while only ES256 is allowed', 401, 'token_invalid', () => craft({ alg: 'RS256', kid: 'rsa-1', typ: 'at+jwt' }, claims(), rs(rsa.privateKey))),
  tok('embedded jwk of the attacker', 401, 'token_invalid', () => craft({ ...HDR, jwk: attacker.jwk }, claims(), ec(attacker.privateKey))),
  tok('jku to an attacker key set', 401, 'token_invalid', () => craft({ ...HDR, jku: 'https://attacker.example/jwks.json' }, claims(), ec(attacker.privateKey))),
  tok('x5u to an attacker certificate', 401, 'token_invalid', () => craft({ ...HDR, x5u: 'https://attacker.example/c.pem' }, claims(), ec(attacker.privateKey))),
  tok('x5c chain', 401, 'token_invalid', () => craft({ ...HDR, x5c: ['MIIB'] }, claims(), ec(attacker.privateKey))),
  tok('kid ../../etc/passwd', 401, 'token_invalid', () => craft({ ...HDR, kid: '../../etc/passwd' }, claims())),
  tok("kid ' OR 1=1 --", 401, 'token_invalid', () => craft({ ...HDR, kid: "' OR 1=1 --" }, claims())),
  tok('kid of 500 characters', 401, 'token_invalid', () => craft({ ...HDR, kid: 'k'.repeat(500) }, claims())),
  tok('kid a number', 401, 'token_invalid', () => craft({ ...HDR, kid: 1 }, claims())),
  tok('crit ["exp"]', 401, 'token_invalid', () => craft({ ...HDR, crit: ['exp'] }, claims())),
  tok('b64 false', 401, 'token_invalid', () => craft({ ...HDR, b64: false, crit: ['b64'] }, claims())),
  tok('zero signature', 401, 'token_invalid', async () => `${b64(text(HDR))}.${b64(text(claims()))}.${b64(new Uint8Array(64))}`),
  tok('truncated signature', 401, 'token_invalid', async () => (await craft(HDR, claims())).slice(0, -12)),
  tok('signature from another key under the real kid', 401, 'token_invalid', () => craft(HDR, claims(), ec(attacker.privateKey))),
  tok('payload edited after signing (US → NL)', 401, 'token_invalid', async () => {
    const [hd, , s] = (await craft(HDR, claims({ nationality: 'US' }))).split('.');
    return `${hd}.${b64(text(claims()))}.${s}`;
  }),
  tok('expired 31 s ago', 401, 'token_expired', () => craft(HDR, claims({ iat: nowS() - 600, exp: nowS() - 31 }))),
  tok('nbf 5 minutes ahead', 401, 'token_not_yet_valid', () => craft(HDR, claims({ nbf: nowS() + 300 }))),
  // a malformed nbf is a malformed token, not one that becomes valid later (was token_not_yet_valid)
  tok('nbf "yesterday"', 401, 'token_invalid', () => craft(HDR, claims({ nbf: 'yesterday' }))),
  tok('nbf null', 401, 'token_invalid', () => craft(HDR, claims({ nbf: null }))),
  // black-box review: a token that contradicts itself is malformed, even where the clock leeway would let it pass
  tok('exp before iat (within the leeway)', 401, 'token_invalid', () => craft(HDR, claims({ iat: nowS(), exp: nowS() - 10 }))),
  tok('exp equal to iat', 401, 'token_invalid', () => craft(HDR, claims({ iat: nowS(), exp: nowS() }))),
  tok('nbf at or after exp (within the leeway)', 401, 'token_invalid', () => craft(HDR, claims({ nbf: nowS() + 10, exp: nowS() + 5 }))),
  tok('nbf -1e400 (reads as -Infinity)', 401, 'token_invalid', () => craft(HDR, rawClaims('"nbf":-1e400'))),
  tok('nbf 1e400 (reads as Infinity)', 401, 'token_invalid', () => craft(HDR, rawClaims('"nbf":1e400'))),
  tok('sub only spaces', 401, 'token_invalid', () => craft(HDR, claims({ sub: '   ' }))),
  tok('sub with a trailing space', 401, 'token_invalid', () => craft(HDR, claims({ sub: 'anna.devries@vendor.example ' }))),
  tok('iat 5 minutes ahead', 401, 'token_not_yet_valid', () => craft(HDR, claims({ iat: nowS() + 300, exp: nowS() + 900 }))),
  tok('iat older than maxTokenAge', 401, 'token_expired', () => craft(HDR, claims({ iat: nowS() - 3600 - 60, exp: nowS() + 600 }))),
  tok('exp in the year 318857 (would break whoami)', 401, 'token_invalid', () => craft(HDR, claims({ exp: 1e13 })), '/_metagate/whoami'),
  tok('iss another issuer', 401, 'issuer_mismatch', () => craft(HDR, claims({ iss: 'https://evil.example' }))),
  tok('iss missing', 401, 'issuer_mismatch', () => craft(HDR, claims({}, ['iss']))),
  tok('aud another audience', 401, 'audience_mismatch', () => craft(HDR, claims({ aud: 'another-api' }))),
  tok('aud the gateway plus another', 401, 'audience_mismatch', () => craft(HDR, claims({ aud: [AUDIENCE, 'another-api'] }))),
  tok('sub missing', 401, 'token_invalid', () => craft(HDR, claims({}, ['sub']))),
  tok('jti missing', 401, 'token_invalid', () => craft(HDR, claims({}, ['jti']))),
  tok('ID token: typ JWT', 401, 'token_type_invalid', () => h.token('geheim', { header: { typ: 'JWT' } })),
  tok('ID token: no typ', 401, 'token_type_invalid', () => craft({ alg: 'ES256', kid: 'test-key-1' }, claims())),
  tok('JWE compact (5 parts)', 401, 'token_invalid', async () => [b64(text({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'test-key-1' })), b64('k'), b64('iv'), b64('ct'), b64('tag')].join('.')),
  tok('oversized token (9 KB)', 401, 'token_invalid', () => h.token({ ...claims(), pad: 'x'.repeat(9000) })),
  tok('duplicate nationality key, US then NL', 401, 'token_invalid', () => craft(HDR, rawClaims('"nationality":"US","nationality":"NL"').replace('"nationality":"NL",', ''))),
  tok('duplicate key spelled "n\\u0061tionality"', 401, 'token_invalid', () => craft(HDR, rawClaims('"n\\u0061tionality":"US"'))),
  tok('__proto__ in the payload', 401, 'token_invalid', () => craft(HDR, rawClaims('"__proto__":{"clearance":"STG_ZEER_GEHEIM"}'))),
  tok('__proto__ in the header', 401, 'token_invalid', () => craft('{"alg":"ES256","kid":"test-key-1","typ":"at+jwt","__proto__":{}}', claims())),
  tok('header an array', 401, 'token_invalid', () => craft('["ES256"]', claims())),
  tok('payload not JSON', 401, 'token_invalid', () => craft(HDR, 'nationality=NL')),
];

describe('token attacks through the gateway', () => {
  it('control: a valid token is allowed and forwarded, once', async () => {
    expectAllowed(await send(bearer(await h.token('geheim'))));
  });

  it('control: lower-case "bearer" is accepted', async () => {
    expectAllowed(await send({ authorization: `bearer ${await h.token('geheim')}` }));
  });

  it('control: typ application/at+jwt is accepted', async () => {
    expectAllowed(await send(bearer(await h.token('geheim', { header: { typ: 'application/at+jwt' } }))));
  });

  it.each(CASES)('$name → $status $code', async ({ headers, status, code, path }) => {
    const hd = await headers();
    const o = await send(hd, path);
    const auth = hd.authorization;
    expectRefused(o, status, code, typeof auth === 'string' ? auth.replace(/^\S+\s+/, '') : undefined);
    recordCases(TOKEN_CLASS, 1);
  });

  it('a token in the query string is never read: refused as a misplaced credential before authentication', async () => {
    const o = await send({}, `${PATH}?access_token=${await h.token('geheim')}`);
    expectRefused(o, 401, 'token_invalid');
    recordCases(TOKEN_CLASS, 1);
  });

  it('an unknown kid causes at most one JWKS fetch per cool-down', async () => {
    const hits = h.jwks.hits;
    for (let i = 0; i < 3; i++) expectRefused(await send(bearer(await craft({ ...HDR, kid: `rotated-${i}` }, claims()))), 401, 'token_invalid');
    expect(h.jwks.hits).toBe(hits + 1);
    recordCases(TOKEN_CLASS, 3);
  });
});

describe('verified-token cache and key rotation through the gateway', () => {
  it('a cached token is refused once its exp (plus tolerance) has passed', async () => {
    const t = await h.token('geheim', { expiresInSec: 120 });
    expectAllowed(await send(bearer(t)));
    expectAllowed(await send(bearer(t)));
    clock += (120 + 30) * 1000;
    expectRefused(await send(bearer(t)), 401, 'token_expired');
    recordCases(TOKEN_CLASS, 1);
  });

  it('after a rotation that drops the signing key, a cached token is refused; restoring the key restores access', async () => {
    const t = await h.token('geheim');
    expectAllowed(await send(bearer(t)));
    const original = { keys: [...h.issuer.jwks.keys, rsa.jwk] };
    try {
      const other = await generateKeyPair('ES256', { extractable: true });
      h.jwks.serve = { keys: [{ ...(await exportJWK(other.publicKey)), kid: 'test-key-2', alg: 'ES256', use: 'sig' }] };
      // an unknown kid makes the gateway refetch (the cool-down has passed): it now sees the rotated set
      expectRefused(await send(bearer(await craft({ ...HDR, kid: 'test-key-2' }, claims()))), 401, 'token_invalid');
      expectRefused(await send(bearer(t)), 401, 'token_invalid');
    } finally {
      h.jwks.serve = original;
      await h.gateway.gateway.keys.refresh();
    }
    expectAllowed(await send(bearer(t)));
    recordCases(TOKEN_CLASS, 2);
  });
});
