// Authenticator with frozen time and a KeyStore on a local JWKS file: every token attack maps to one reason code.
//
// Tokens are assembled by hand (header and payload as raw JSON text, signed with WebCrypto) so that the cases can
// carry what jose's own signers refuse to produce: duplicate keys, `crit`, non-object headers, `alg: none`.

import { createHmac, createPublicKey, webcrypto, type JsonWebKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactSign, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KeyStore } from '../../src/auth/keystore.js';
import type { AuthConfig } from '../../src/config/types.js';
import { Authenticator, countAuthorization, type AuthResult } from '../../src/pipeline/authenticate.js';
import { PROBLEMS } from '../../src/errors.js';
import type { DenyReason } from '../../src/policy/reasons.js';
import { recordCases } from '../security/summary.js';

const UNIT_CLASS = 'unit: authenticate';

const ISS = 'https://idp.unit.metagate.invalid';
const AUD = 'metagate-unit';
const NOW_MS = Date.UTC(2026, 5, 1, 12, 0, 0); // frozen: 2026-06-01T12:00:00Z
const NOW = NOW_MS / 1000;
const TOL = 30;
const MAX_AGE = 3600;
const MAX_BYTES = 8192;

// ---------------------------------------------------------------- token crafting

const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64url');
const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

type Signer = (input: string) => Promise<string>;

function ecSigner(key: CryptoKey): Signer {
  return async (input) => b64(new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key as unknown as webcrypto.CryptoKey, Buffer.from(input))));
}
function rsaSigner(key: CryptoKey): Signer {
  return async (input) => b64(new Uint8Array(await webcrypto.subtle.sign({ name: 'RSASSA-PKCS1-v1_5' }, key as unknown as webcrypto.CryptoKey, Buffer.from(input))));
}
function hmacSigner(secret: string | Buffer): Signer {
  return async (input) => createHmac('sha256', secret).update(input).digest('base64url');
}

/** header and payload are objects (serialised with JSON.stringify) or raw JSON text, signed byte for byte */
async function craft(header: unknown, payload: unknown, sign: Signer): Promise<string> {
  const input = `${b64(text(header))}.${b64(text(payload))}`;
  return `${input}.${await sign(input)}`;
}

function claims(over: Record<string, unknown> = {}, omit: string[] = []): Record<string, unknown> {
  const c: Record<string, unknown> = { iss: ISS, aud: AUD, sub: 'anna.devries@vendor.example', jti: 'jti-1', iat: NOW - 60, exp: NOW + 600, nationality: 'NL', ...over };
  for (const k of omit) delete c[k];
  return c;
}

const HDR = { alg: 'ES256', kid: 'k1', typ: 'at+jwt' };

// ---------------------------------------------------------------- fixtures

let dir: string;
let jwksFile: string;
let k1: { publicKey: CryptoKey; privateKey: CryptoKey; jwk: JWK };
let k2: { publicKey: CryptoKey; privateKey: CryptoKey; jwk: JWK };
let attacker: { publicKey: CryptoKey; privateKey: CryptoKey; jwk: JWK };
let rsa: { publicKey: CryptoKey; privateKey: CryptoKey; jwk: JWK };
let good: Signer;
let evil: Signer;
let clock = NOW_MS;
const now = () => clock;

async function keyPair(alg: 'ES256' | 'RS256', kid: string) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { publicKey, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

function authConfig(over: Partial<AuthConfig> = {}): AuthConfig {
  return {
    issuer: ISS,
    audience: AUD,
    algorithms: ['ES256'],
    typ: 'at+jwt',
    requiredClaims: ['sub', 'exp', 'iat', 'jti'],
    maxTokenAgeSec: MAX_AGE,
    clockToleranceSec: TOL,
    maxTokenBytes: MAX_BYTES,
    allowMultipleAudiences: false,
    cacheSize: 100,
    jwks: { file: jwksFile, refreshIntervalSec: 300, maxStalenessSec: 3600, cooldownSec: 30, timeoutMs: 1000 },
    ...over,
  };
}

function writeJwks(keys: JWK[]): void {
  writeFileSync(jwksFile, JSON.stringify({ keys }));
}

async function authenticator(over: Partial<AuthConfig> = {}): Promise<{ auth: Authenticator; keys: KeyStore }> {
  const cfg = authConfig(over);
  const keys = new KeyStore(cfg.jwks, { now });
  await keys.start();
  return { auth: new Authenticator(cfg, keys, now), keys };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'metagate-auth-'));
  jwksFile = join(dir, 'jwks.json');
  k1 = await keyPair('ES256', 'k1');
  k2 = await keyPair('ES256', 'k2');
  attacker = await keyPair('ES256', 'k1'); // same kid as the real key
  rsa = await keyPair('RS256', 'rsa-1');
  good = ecSigner(k1.privateKey);
  evil = ecSigner(attacker.privateKey);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(() => {
  clock = NOW_MS;
  // the RSA key is published too, so a refused RS256 token is refused for its algorithm, not for a missing key
  writeJwks([k1.jwk, rsa.jwk]);
});

function expectReason(r: AuthResult, reason: DenyReason | 'ok'): void {
  if (reason === 'ok') {
    expect(r, r.ok ? '' : `${r.reason}: ${r.detail}`).toMatchObject({ ok: true });
  } else {
    expect(r.ok ? 'ok' : `${r.reason}`, r.ok ? '' : r.detail).toBe(reason);
  }
}

// ---------------------------------------------------------------- verify(): the table

interface Case {
  name: string;
  token: () => Promise<string>;
  expected: DenyReason | 'ok';
}

const c = (name: string, expected: DenyReason | 'ok', token: () => Promise<string>): Case => ({ name, expected, token });

const CASES: Case[] = [
  c('baseline: a well-formed ES256 access token', 'ok', () => craft(HDR, claims(), good)),

  // --- algorithm confusion
  c('alg none, empty signature', 'token_invalid', async () => `${b64(text({ alg: 'none', typ: 'at+jwt' }))}.${b64(text(claims()))}.`),
  c('alg none with a kid, empty signature', 'token_invalid', async () => `${b64(text({ alg: 'none', kid: 'k1', typ: 'at+jwt' }))}.${b64(text(claims()))}.`),
  c('alg "None" (case variant)', 'token_invalid', async () => `${b64(text({ alg: 'None', typ: 'at+jwt' }))}.${b64(text(claims()))}.`),
  c('HS256 keyed with the public JWK (JSON) of the real key', 'token_invalid', () => craft({ ...HDR, alg: 'HS256' }, claims(), hmacSigner(JSON.stringify(k1.jwk)))),
  c('HS256 keyed with the public key PEM', 'token_invalid', () => craft({ ...HDR, alg: 'HS256' }, claims(), hmacSigner(createPublicKey({ key: k1.jwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string))),
  c('RS256 with a published RSA key while only ES256 is allowed', 'token_invalid', () => craft({ alg: 'RS256', kid: 'rsa-1', typ: 'at+jwt' }, claims(), rsaSigner(rsa.privateKey))),
  c('alg ES256 header over an RSA signature', 'token_invalid', () => craft({ alg: 'ES256', kid: 'rsa-1', typ: 'at+jwt' }, claims(), rsaSigner(rsa.privateKey))),
  c('alg missing', 'token_invalid', () => craft({ kid: 'k1', typ: 'at+jwt' }, claims(), good)),
  c('alg not a string', 'token_invalid', () => craft({ alg: ['ES256'], kid: 'k1', typ: 'at+jwt' }, claims(), good)),

  // --- key material the token brings with it
  c('embedded jwk (attacker key), no kid', 'token_invalid', () => craft({ alg: 'ES256', typ: 'at+jwt', jwk: attacker.jwk }, claims(), evil)),
  c('embedded jwk (attacker key) with the real kid', 'token_invalid', () => craft({ ...HDR, jwk: attacker.jwk }, claims(), evil)),
  c('embedded jwk naming the real public key, signed by the real key', 'token_invalid', () => craft({ ...HDR, jwk: k1.jwk }, claims(), good)),
  c('jku pointing elsewhere', 'token_invalid', () => craft({ ...HDR, jku: 'https://attacker.example/jwks.json' }, claims(), evil)),
  c('x5u pointing elsewhere', 'token_invalid', () => craft({ ...HDR, x5u: 'https://attacker.example/cert.pem' }, claims(), evil)),
  c('x5c certificate chain', 'token_invalid', () => craft({ ...HDR, x5c: [b64('not really a certificate')] }, claims(), evil)),

  // --- kid injection
  c('kid path traversal ../../etc/passwd', 'token_invalid', () => craft({ ...HDR, kid: '../../etc/passwd' }, claims(), good)),
  c('kid path traversal to /dev/null', 'token_invalid', () => craft({ ...HDR, kid: '/dev/null' }, claims(), good)),
  c("kid SQL-ish ' OR '1'='1", 'token_invalid', () => craft({ ...HDR, kid: "k1' OR '1'='1" }, claims(), good)),
  c('kid SQL-ish with UNION SELECT', 'token_invalid', () => craft({ ...HDR, kid: "x' UNION SELECT 'secret' --" }, claims(), hmacSigner('secret'))),
  c('kid of 500 characters', 'token_invalid', () => craft({ ...HDR, kid: 'k'.repeat(500) }, claims(), good)),
  c('kid a number', 'token_invalid', () => craft({ ...HDR, kid: 1 }, claims(), good)),
  c('kid null', 'token_invalid', () => craft({ ...HDR, kid: null }, claims(), good)),
  c('kid an array holding the real kid', 'token_invalid', () => craft({ ...HDR, kid: ['k1'] }, claims(), good)),
  c('kid empty string', 'token_invalid', () => craft({ ...HDR, kid: '' }, claims(), good)),
  c('kid with a NUL byte after the real kid', 'token_invalid', () => craft({ ...HDR, kid: 'k1\u0000' }, claims(), good)),
  c('kid unknown to the JWKS', 'token_invalid', () => craft({ ...HDR, kid: 'k-unknown' }, claims(), good)),

  // --- header parameters the gateway never honours
  c('crit ["exp"]', 'token_invalid', () => craft({ ...HDR, crit: ['exp'], exp: NOW + 600 }, claims(), good)),
  c('crit [] (empty)', 'token_invalid', () => craft({ ...HDR, crit: [] }, claims(), good)),
  c('b64 false (unencoded payload)', 'token_invalid', () => craft({ ...HDR, b64: false, crit: ['b64'] }, claims(), good)),
  c('b64 false without crit', 'token_invalid', () => craft({ ...HDR, b64: false }, claims(), good)),
  c('zip DEF', 'token_invalid', () => craft({ ...HDR, zip: 'DEF' }, claims(), good)),

  // --- signatures
  c('zero signature (64 zero bytes: r = s = 0)', 'token_invalid', async () => `${b64(text(HDR))}.${b64(text(claims()))}.${b64(new Uint8Array(64))}`),
  c('empty signature', 'token_invalid', async () => `${b64(text(HDR))}.${b64(text(claims()))}.`),
  c('truncated signature', 'token_invalid', async () => (await craft(HDR, claims(), good)).slice(0, -10)),
  c('signature one bit off', 'token_invalid', async () => {
    const t = await craft(HDR, claims(), good);
    const sig = Buffer.from(t.split('.')[2]!, 'base64url');
    sig[10] = sig[10]! ^ 1;
    return `${t.split('.').slice(0, 2).join('.')}.${b64(sig)}`;
  }),
  c('DER-encoded ECDSA signature instead of raw r||s', 'token_invalid', async () => {
    const input = `${b64(text(HDR))}.${b64(text(claims()))}`;
    const { sign } = await import('node:crypto');
    const { KeyObject } = await import('node:crypto');
    const der = sign('sha256', Buffer.from(input), KeyObject.from(k1.privateKey as unknown as webcrypto.CryptoKey));
    return `${input}.${b64(der)}`;
  }),
  c('signature from another key under the real kid', 'token_invalid', () => craft(HDR, claims(), evil)),
  c('valid signature moved onto an edited payload (nationality US → NL)', 'token_invalid', async () => {
    const t = await craft(HDR, claims({ nationality: 'US' }), good);
    const [h, , s] = t.split('.');
    return `${h}.${b64(text(claims({ nationality: 'NL' })))}.${s}`;
  }),

  // --- lifetime (tolerance 30 s, max age 3600 s)
  c('exp 31 s in the past (beyond tolerance)', 'token_expired', () => craft(HDR, claims({ iat: NOW - 600, exp: NOW - 31 }), good)),
  c('exp exactly at the tolerance edge (now - 30)', 'token_expired', () => craft(HDR, claims({ iat: NOW - 600, exp: NOW - TOL }), good)),
  c('exp 29 s in the past (within tolerance)', 'ok', () => craft(HDR, claims({ iat: NOW - 600, exp: NOW - 29 }), good)),
  c('exp a numeric string', 'token_invalid', () => craft(HDR, claims({ exp: String(NOW + 600) }), good)),
  c('exp beyond year 9999', 'token_invalid', () => craft(HDR, claims({ exp: 1e13 }), good)),
  c('nbf 31 s in the future', 'token_not_yet_valid', () => craft(HDR, claims({ nbf: NOW + 31 }), good)),
  c('nbf 29 s in the future (within tolerance)', 'ok', () => craft(HDR, claims({ nbf: NOW + 29 }), good)),
  c('iat 31 s in the future', 'token_not_yet_valid', () => craft(HDR, claims({ iat: NOW + 31, exp: NOW + 600 }), good)),
  c('iat 29 s in the future (within tolerance)', 'ok', () => craft(HDR, claims({ iat: NOW + 29, exp: NOW + 600 }), good)),
  c('iat older than maxTokenAge + tolerance, exp still future', 'token_expired', () => craft(HDR, claims({ iat: NOW - MAX_AGE - TOL - 1, exp: NOW + 600 }), good)),
  c('iat at maxTokenAge + tolerance exactly', 'ok', () => craft(HDR, claims({ iat: NOW - MAX_AGE - TOL, exp: NOW + 600 }), good)),
  c('iat a string', 'token_invalid', () => craft(HDR, claims({ iat: String(NOW) }), good)),

  // --- required claims
  c('iat missing', 'token_invalid', () => craft(HDR, claims({}, ['iat']), good)),
  c('exp missing', 'token_invalid', () => craft(HDR, claims({}, ['exp']), good)),
  c('sub missing', 'token_invalid', () => craft(HDR, claims({}, ['sub']), good)),
  c('jti missing', 'token_invalid', () => craft(HDR, claims({}, ['jti']), good)),

  // --- issuer and audience
  c('iss missing', 'issuer_mismatch', () => craft(HDR, claims({}, ['iss']), good)),
  c('iss another issuer', 'issuer_mismatch', () => craft(HDR, claims({ iss: 'https://evil.example' }), good)),
  c('iss with a trailing slash', 'issuer_mismatch', () => craft(HDR, claims({ iss: `${ISS}/` }), good)),
  c('iss upper-cased', 'issuer_mismatch', () => craft(HDR, claims({ iss: ISS.toUpperCase() }), good)),
  c('iss an array holding the issuer', 'issuer_mismatch', () => craft(HDR, claims({ iss: [ISS] }), good)),
  c('aud another audience', 'audience_mismatch', () => craft(HDR, claims({ aud: 'another-api' }), good)),
  c('aud missing', 'audience_mismatch', () => craft(HDR, claims({}, ['aud']), good)),
  c('aud an array with the right one plus another', 'audience_mismatch', () => craft(HDR, claims({ aud: [AUD, 'another-api'] }), good)),
  c('aud an array with the right one only', 'ok', () => craft(HDR, claims({ aud: [AUD] }), good)),
  c('aud an empty array', 'audience_mismatch', () => craft(HDR, claims({ aud: [] }), good)),

  // --- token type (RFC 9068)
  c('typ JWT (an ID token)', 'token_type_invalid', () => craft({ ...HDR, typ: 'JWT' }, claims(), good)),
  c('typ missing (an ID token)', 'token_type_invalid', () => craft({ alg: 'ES256', kid: 'k1' }, claims(), good)),
  c('typ application/jwt', 'token_type_invalid', () => craft({ ...HDR, typ: 'application/jwt' }, claims(), good)),
  c('typ at+jwt as a number-less array', 'token_type_invalid', () => craft({ ...HDR, typ: ['at+jwt'] }, claims(), good)),
  // jose compares media types as RFC 2045 says: case-insensitively, with "application/" implied — both accepted
  c('typ application/at+jwt (accepted: jose normalises the media type)', 'ok', () => craft({ ...HDR, typ: 'application/at+jwt' }, claims(), good)),
  c('typ AT+JWT (accepted: media types are case-insensitive)', 'ok', () => craft({ ...HDR, typ: 'AT+JWT' }, claims(), good)),

  // --- not a JWS
  c('JWE compact serialisation (5 parts)', 'token_invalid', async () => [b64(text({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'k1' })), b64('k'), b64('iv'), b64('ct'), b64('tag')].join('.')),
  c('JWE-shaped with alg dir and an ES256-looking header', 'token_invalid', async () => [b64(text({ alg: 'ES256', enc: 'A256GCM', kid: 'k1', typ: 'at+jwt' })), '', b64('iv'), b64('ct'), b64('tag')].join('.')),
  c('two parts only', 'token_invalid', async () => `${b64(text(HDR))}.${b64(text(claims()))}`),
  c('four parts', 'token_invalid', async () => `${await craft(HDR, claims(), good)}.${b64('x')}`),
  c('oversized token (> maxTokenBytes)', 'token_invalid', () => craft(HDR, claims({ pad: 'x'.repeat(MAX_BYTES) }), good)),

  // --- ambiguous JSON
  c('duplicate payload key nationality US then NL', 'token_invalid', () =>
    craft(HDR, `{"iss":"${ISS}","aud":"${AUD}","sub":"s","jti":"j","iat":${NOW - 60},"exp":${NOW + 600},"nationality":"US","nationality":"NL"}`, good)),
  c('duplicate payload key spelled with an escape: "n\\u0061tionality"', 'token_invalid', () =>
    craft(HDR, `{"iss":"${ISS}","aud":"${AUD}","sub":"s","jti":"j","iat":${NOW - 60},"exp":${NOW + 600},"nationality":"US","n\\u0061tionality":"NL"}`, good)),
  c('duplicate iss (the second one is the trusted issuer)', 'token_invalid', () =>
    craft(HDR, `{"iss":"https://evil.example","iss":"${ISS}","aud":"${AUD}","sub":"s","jti":"j","iat":${NOW - 60},"exp":${NOW + 600}}`, good)),
  c('duplicate key inside a nested object', 'token_invalid', () =>
    craft(HDR, `{"iss":"${ISS}","aud":"${AUD}","sub":"s","jti":"j","iat":${NOW - 60},"exp":${NOW + 600},"org":{"id":"a","id":"b"}}`, good)),
  c('__proto__ key in the payload', 'token_invalid', () =>
    craft(HDR, `{"iss":"${ISS}","aud":"${AUD}","sub":"s","jti":"j","iat":${NOW - 60},"exp":${NOW + 600},"__proto__":{"nationality":"NL"}}`, good)),
  c('__proto__ key in the payload spelled with an escape', 'token_invalid', () =>
    craft(HDR, `{"iss":"${ISS}","aud":"${AUD}","sub":"s","jti":"j","iat":${NOW - 60},"exp":${NOW + 600},"__pr\\u006fto__":{"nationality":"NL"}}`, good)),
  c('__proto__ key in the header', 'token_invalid', () => craft(`{"alg":"ES256","kid":"k1","typ":"at+jwt","__proto__":{"alg":"none"}}`, claims(), good)),
  c('duplicate alg in the header', 'token_invalid', () => craft(`{"alg":"none","alg":"ES256","kid":"k1","typ":"at+jwt"}`, claims(), good)),
  c('duplicate typ in the header', 'token_invalid', () => craft(`{"alg":"ES256","kid":"k1","typ":"JWT","typ":"at+jwt"}`, claims(), good)),

  // --- structure
  c('header an array', 'token_invalid', () => craft('[]', claims(), good)),
  c('header a string', 'token_invalid', () => craft('"ES256"', claims(), good)),
  c('header null', 'token_invalid', () => craft('null', claims(), good)),
  c('header a number', 'token_invalid', () => craft('42', claims(), good)),
  c('header not JSON', 'token_invalid', () => craft('{alg:ES256}', claims(), good)),
  c('payload not JSON', 'token_invalid', () => craft(HDR, 'nationality=NL', good)),
  c('payload a JSON array', 'token_invalid', () => craft(HDR, '[]', good)),
  c('payload a JSON string', 'token_invalid', () => craft(HDR, '"claims"', good)),
  c('payload with a byte-order mark', 'token_invalid', () => craft(HDR, `\ufeff${text(claims())}`, good)),
  c('payload JSON followed by garbage', 'token_invalid', () => craft(HDR, `${text(claims())}x`, good)),
];

describe('Authenticator.verify — token attacks (frozen clock, local JWKS file)', () => {
  let auth: Authenticator;
  beforeAll(async () => {
    writeJwks([k1.jwk, rsa.jwk]);
    ({ auth } = await authenticator({ cacheSize: 0 }));
  });

  it.each(CASES)('$name → $expected', async ({ token, expected }) => {
    const r = await auth.verify(await token());
    expectReason(r, expected);
    if (!r.ok) {
      // every reason the authenticator gives has a problem entry with a 401 (or 503 for keys)
      expect(PROBLEMS[r.reason].status).toBe(401);
      expect(r.detail.length).toBeGreaterThan(10);
    }
    recordCases(UNIT_CLASS, 1);
  });

  it('a token with duplicate payload keys is refused even though jose alone would accept it', async () => {
    // prove the precheck matters: jose over the same bytes (CompactSign signs the raw payload bytes) takes the last copy
    const raw = `{"iss":"${ISS}","aud":"${AUD}","sub":"s","jti":"j","iat":${NOW - 60},"exp":${NOW + 600},"nationality":"US","nationality":"NL"}`;
    const token = await new CompactSign(new TextEncoder().encode(raw)).setProtectedHeader(HDR).sign(k1.privateKey);
    const { jwtVerify } = await import('jose');
    const direct = await jwtVerify(token, k1.publicKey, { currentDate: new Date(NOW_MS) });
    expect(direct.payload.nationality).toBe('NL');
    expectReason(await auth.verify(token), 'token_invalid');
  });

  it('the RS256 token is a real one: accepted when RS256 is allowed (control)', async () => {
    const { auth: both } = await authenticator({ algorithms: ['ES256', 'RS256'], cacheSize: 0 });
    const t = await craft({ alg: 'RS256', kid: 'rsa-1', typ: 'at+jwt' }, claims(), rsaSigner(rsa.privateKey));
    expectReason(await both.verify(t), 'ok');
    expectReason(await auth.verify(t), 'token_invalid');
  });

  it('a token without kid is accepted when exactly one published key fits its alg', async () => {
    expectReason(await auth.verify(await craft({ alg: 'ES256', typ: 'at+jwt' }, claims(), good)), 'ok');
  });

  it('a token without kid is refused (fail closed) when several published keys fit its alg', async () => {
    // jose 6 does not try each candidate; refusing is the safe reading of an ambiguous key choice
    writeJwks([k1.jwk, k2.jwk]);
    const { auth: two } = await authenticator({ cacheSize: 0 });
    const r = await two.verify(await craft({ alg: 'ES256', typ: 'at+jwt' }, claims(), good));
    expectReason(r, 'token_invalid');
    expectReason(await two.verify(await craft(HDR, claims(), good)), 'ok');
  });

  it('verify() refuses an oversized token by itself (the admin explain endpoint calls it without extract)', async () => {
    const t = await craft(HDR, claims({ pad: 'x'.repeat(MAX_BYTES) }), good);
    const r = await auth.verify(t);
    expectReason(r, 'token_invalid');
    expect(r.ok ? '' : r.detail).toMatch(/larger than 8192 bytes/);
  });

  it('the verified token carries the kid and a 16-hex fingerprint, never the token', async () => {
    const t = await craft(HDR, claims(), good);
    const r = await auth.verify(t);
    if (!r.ok) throw new Error(r.detail);
    expect(r.token.kid).toBe('k1');
    expect(r.token.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.stringify(r.token)).not.toContain(t.split('.')[2]);
  });
});

// ---------------------------------------------------------------- extract()

/** Spellings around a token's `Bearer <token>`: each must be answered the same whether the token is cached or not. */
const EXTRACT_AROUND = (t: string): Array<[string, number]> => [
  [`Bearer ${t}`, 1],
  [`bearer ${t}`, 1],
  [`BEARER ${t}`, 1],
  [`Bearer  ${t}`, 1],
  [`Bearer\t${t}`, 1],
  [`Bearer ${t} `, 1],
  [` Bearer ${t}`, 1],
  [`Bearer ${t}, Bearer ${t}`, 1],
  [`Bearer ${t}.x.y`, 1],
  [`Bearer ${t}=`, 1],
  [`Basic ${t}`, 1],
  [t, 1],
  [`Bearer ${t}`, 2],
];

describe('Authenticator.extract — the Authorization header', () => {
  let auth: Authenticator;
  beforeAll(async () => {
    ({ auth } = await authenticator());
  });
  const tok = 'aaaa.bbbb.cccc';

  const EXTRACT: Array<{ name: string; header: string | undefined; count?: number; expected: DenyReason | string }> = [
    { name: 'Bearer <jws>', header: `Bearer ${tok}`, expected: tok },
    { name: 'lower-case bearer (schemes are case-insensitive, RFC 9110 §11.1)', header: `bearer ${tok}`, expected: tok },
    { name: 'upper-case BEARER', header: `BEARER ${tok}`, expected: tok },
    { name: 'no header', header: undefined, count: 0, expected: 'token_missing' },
    { name: 'empty header', header: '', count: 1, expected: 'token_missing' },
    { name: '"Bearer" with no token', header: 'Bearer', expected: 'token_invalid' },
    { name: '"Bearer " with an empty token', header: 'Bearer ', expected: 'token_invalid' },
    { name: 'Bearer with two spaces', header: `Bearer  ${tok}`, expected: 'token_invalid' },
    { name: 'Bearer with a tab', header: `Bearer\t${tok}`, expected: 'token_invalid' },
    { name: 'trailing space after the token', header: `Bearer ${tok} `, expected: 'token_invalid' },
    { name: 'Basic credentials', header: `Basic ${Buffer.from('user:pass').toString('base64')}`, expected: 'token_invalid' },
    { name: 'Basic scheme carrying a JWS', header: `Basic ${tok}`, expected: 'token_invalid' },
    { name: 'DPoP scheme', header: `DPoP ${tok}`, expected: 'token_invalid' },
    { name: 'token without scheme', header: tok, expected: 'token_invalid' },
    { name: 'two bearer tokens in one header', header: `Bearer ${tok}, Bearer ${tok}`, expected: 'token_invalid' },
    { name: 'two Authorization headers', header: `Bearer ${tok}`, count: 2, expected: 'token_invalid' },
    { name: 'two Authorization headers, the first empty', header: '', count: 2, expected: 'token_invalid' },
    { name: 'JWE (5 parts)', header: `Bearer ${tok}.dddd.eeee`, expected: 'token_invalid' },
    { name: 'base64 padding in the token', header: 'Bearer aaaa=.bbbb.cccc', expected: 'token_invalid' },
    { name: 'standard base64 characters (+ /)', header: 'Bearer aa+a.bb/b.cccc', expected: 'token_invalid' },
    { name: 'an empty signature segment', header: 'Bearer aaaa.bbbb.', expected: 'token_invalid' },
    { name: 'a NUL byte in the token', header: 'Bearer aaaa.bb\u0000bb.cccc', expected: 'token_invalid' },
    { name: 'token of exactly maxTokenBytes', header: `Bearer ${'a'.repeat(MAX_BYTES - 10)}.bbbb.cccc`, expected: `${'a'.repeat(MAX_BYTES - 10)}.bbbb.cccc` },
    { name: 'token of maxTokenBytes + 1', header: `Bearer ${'a'.repeat(MAX_BYTES - 9)}.bbbb.cccc`, expected: 'token_invalid' },
  ];

  it.each(EXTRACT)('$name', ({ header, count, expected }) => {
    const r = auth.extract(header, count ?? 1);
    if ('token' in r) expect(r.token).toBe(expected);
    else expect(r.reason).toBe(expected);
    recordCases(UNIT_CLASS, 1);
  });

  it.each([
    ['Bearer\t<jws>', `Bearer\t${tok}`, 'the Bearer scheme must be followed by one space and the token'],
    ['Bearer alone', 'Bearer', 'the Bearer scheme must be followed by one space and the token'],
    ['Basic credentials', 'Basic dXNlcjpwYXNz', 'only the Bearer scheme is accepted'],
    ['Bearer with two spaces', `Bearer  ${tok}`, 'the bearer value is not a signed JWT (header.payload.signature); encrypted or malformed tokens are refused'],
  ])('the refusal names the problem: %s', (_d, header, detail) => {
    const r = auth.extract(header, 1);
    expect('detail' in r && r.detail).toBe(detail);
    recordCases(UNIT_CLASS, 1);
  });

  it('a cached token is taken from "Bearer <token>" without the pattern; every other spelling is judged as before', async () => {
    const { auth: a } = await authenticator();
    const t = await craft(HDR, claims(), good);
    const before = EXTRACT_AROUND(t).map(([header, count]) => a.extract(header, count));
    expect(await a.verify(t)).toMatchObject({ ok: true, cached: false });
    expect(a.cacheSize).toBe(1);
    expect(a.extract(`Bearer ${t}`, 1)).toEqual({ token: t });
    expect(EXTRACT_AROUND(t).map(([header, count]) => a.extract(header, count))).toEqual(before);
    // a second Authorization header and an oversized header are refused before the cache is asked
    expect(a.extract(`Bearer ${t}`, 2)).toMatchObject({ reason: 'token_invalid' });
    recordCases(UNIT_CLASS, EXTRACT_AROUND(t).length + 2);
  });

  it('countAuthorization counts every Authorization header name on the raw request, in any case', () => {
    expect(countAuthorization(['Host', 'x', 'Authorization', 'Bearer a', 'authorization', 'Bearer b'])).toBe(2);
    expect(countAuthorization(['AUTHORIZATION', 'Bearer a'])).toBe(1);
    expect(countAuthorization(['Proxy-Authorization', 'Bearer a', 'X-Authorization', 'Bearer b'])).toBe(0);
  });
});

// ---------------------------------------------------------------- the verified-token cache

describe('Authenticator — verified-token cache', () => {
  it('serves a repeat from the cache, then refuses it once the clock passes exp + tolerance', async () => {
    const { auth } = await authenticator();
    const t = await craft(HDR, claims({ iat: NOW - 60, exp: NOW + 120 }), good);
    expect(await auth.verify(t)).toMatchObject({ ok: true, cached: false });
    expect(await auth.verify(t)).toMatchObject({ ok: true, cached: true });
    clock = NOW_MS + (120 + TOL - 1) * 1000;
    expect(await auth.verify(t)).toMatchObject({ ok: true, cached: true });
    clock = NOW_MS + (120 + TOL) * 1000;
    expectReason(await auth.verify(t), 'token_expired');
    expect(auth.cacheSize).toBe(0);
    // and it stays refused on the full path too
    expectReason(await auth.verify(t), 'token_expired');
  });

  it('a cached token is refused once it is older than maxTokenAge', async () => {
    const { auth } = await authenticator();
    const t = await craft(HDR, claims({ iat: NOW - 60, exp: NOW + 2 * MAX_AGE }), good);
    expect(await auth.verify(t)).toMatchObject({ ok: true, cached: false });
    clock = NOW_MS + (MAX_AGE - 60 + TOL + 1) * 1000;
    expectReason(await auth.verify(t), 'token_expired');
  });

  it('a cached token whose nbf lies ahead stays refused; it is never cached', async () => {
    const { auth } = await authenticator();
    const t = await craft(HDR, claims({ nbf: NOW + 300 }), good);
    expectReason(await auth.verify(t), 'token_not_yet_valid');
    expect(auth.cacheSize).toBe(0);
    clock = NOW_MS + 300 * 1000;
    expect(await auth.verify(t)).toMatchObject({ ok: true, cached: false });
  });

  it('rotation that removes the signing key: the cached token is refused at once', async () => {
    const { auth, keys } = await authenticator();
    const t = await craft(HDR, claims(), good);
    expect(await auth.verify(t)).toMatchObject({ ok: true, cached: false });
    expect(await auth.verify(t)).toMatchObject({ ok: true, cached: true });
    const gen = keys.generation;
    writeJwks([k2.jwk]);
    await keys.refresh();
    expect(keys.generation).toBe(gen + 1);
    expectReason(await auth.verify(t), 'token_invalid');
  });

  it('rotation that keeps the signing key: the token is verified again, then cached again', async () => {
    const { auth, keys } = await authenticator();
    const t = await craft(HDR, claims(), good);
    await auth.verify(t);
    writeJwks([k1.jwk, k2.jwk]);
    await keys.refresh();
    expect(await auth.verify(t)).toMatchObject({ ok: true, cached: false });
    expect(await auth.verify(t)).toMatchObject({ ok: true, cached: true });
    expect(auth.cacheSize).toBe(1);
  });

  it('a refresh that finds the same key set keeps the cache', async () => {
    const { auth, keys } = await authenticator();
    const t = await craft(HDR, claims(), good);
    await auth.verify(t);
    await keys.refresh();
    expect(await auth.verify(t)).toMatchObject({ ok: true, cached: true });
  });

  // the cache is keyed by a token's last characters (its signature's end): a token that ends the same way is looked up
  // in the same slot, and only the very text that was verified is served from it
  it('a token that ends like a cached one (same signature, another payload or header) is verified in full and refused', async () => {
    const { auth } = await authenticator();
    const t = await craft(HDR, claims(), good);
    expect(await auth.verify(t)).toMatchObject({ ok: true, cached: false });
    const [h, , sig] = t.split('.') as [string, string, string];
    const payload = Buffer.from(JSON.stringify(claims({ sub: 'someone-else', nationality: 'NLD' }))).toString('base64url');
    const otherHeader = Buffer.from(JSON.stringify({ ...HDR, kid: 'k2' })).toString('base64url');
    for (const forged of [`${h}.${payload}.${sig}`, `${otherHeader}.${t.split('.')[1]}.${sig}`, t.replace(/^./, (c) => (c === 'e' ? 'f' : 'e'))]) {
      expect(forged.slice(-32)).toBe(t.slice(-32));
      expect(forged).not.toBe(t);
      // the quick path of extract() takes only the cached text itself; the pattern still takes the forged one
      expect(auth.extract(`Bearer ${forged}`, 1)).toEqual({ token: forged });
      expect(auth.verifyCached(forged)).toBeNull();
      expect((await auth.verify(forged)).ok).toBe(false);
    }
    // the verified token is still served from its slot, and nothing else was cached
    expect(await auth.verify(t)).toMatchObject({ ok: true, cached: true });
    expect(auth.cacheSize).toBe(1);
  });

  it('refused tokens are never cached', async () => {
    const { auth } = await authenticator();
    for (const t of [await craft(HDR, claims(), evil), await craft({ ...HDR, typ: 'JWT' }, claims(), good), await craft(HDR, claims({ aud: [AUD, 'x'] }), good)]) {
      expect((await auth.verify(t)).ok).toBe(false);
      expect((await auth.verify(t)).ok).toBe(false);
    }
    expect(auth.cacheSize).toBe(0);
  });

  it('is bounded by cacheSize, and cacheSize 0 disables it', async () => {
    const { auth } = await authenticator({ cacheSize: 2 });
    const tokens = await Promise.all([1, 2, 3].map((i) => craft(HDR, claims({ jti: `j${i}` }), good)));
    for (const t of tokens) await auth.verify(t);
    expect(auth.cacheSize).toBe(2);
    // the oldest insertion went first
    expect(await auth.verify(tokens[2]!)).toMatchObject({ cached: true });
    expect(await auth.verify(tokens[0]!)).toMatchObject({ cached: false });

    const { auth: none } = await authenticator({ cacheSize: 0 });
    await none.verify(tokens[0]!);
    expect(await none.verify(tokens[0]!)).toMatchObject({ ok: true, cached: false });
    expect(none.cacheSize).toBe(0);
  });

  it('the cached payload cannot be changed by a later stage', async () => {
    const { auth } = await authenticator();
    const t = await craft(HDR, claims({ nationality: 'US' }), good);
    const r1 = await auth.verify(t);
    if (!r1.ok) throw new Error(r1.detail);
    expect(() => {
      (r1.token.payload as Record<string, unknown>).nationality = 'NL';
    }).toThrow(TypeError);
    const r2 = await auth.verify(t);
    expect(r2).toMatchObject({ ok: true, cached: true });
    expect(r2.ok && r2.token.payload.nationality).toBe('US');
  });

  it('a cached token is not a key: a different token with the same claims is verified on its own', async () => {
    const { auth } = await authenticator();
    const t = await craft(HDR, claims(), good);
    await auth.verify(t);
    const forged = `${t.split('.').slice(0, 2).join('.')}.${b64(new Uint8Array(64))}`;
    expectReason(await auth.verify(forged), 'token_invalid');
  });
});
