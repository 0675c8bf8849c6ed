// The gateway against a real OpenID provider (oidc-provider 9): JWT access tokens (RFC 9068) obtained with the
// client_credentials grant and a resource indicator (RFC 8707), fetched over HTTP and verified through the JWKS the
// provider publishes.
//
// How the provider is set up, and why:
// * Each vendor engineer is a confidential client here. The client_credentials grant needs no browser interaction,
//   so the test drives the real token endpoint with a plain HTTP POST; the identity attributes an IdP would hold
//   per person are held per client (extraTokenClaims looks them up by client id).
// * features.resourceIndicators.getResourceServerInfo returns accessTokenFormat 'jwt' signed with ES256 for the
//   gateway's resource, so the token is an RFC 9068 JWT with typ "at+jwt" whose aud is the gateway's audience.
// * `sub`: for client_credentials oidc-provider sets sub to the client id *after* spreading extraTokenClaims, so an
//   extra `sub` is overwritten. The closest real configuration is the JWT format customizer
//   (formats.customizers.jwt), which runs last and sets the person's subject.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TABLE_ID } from '../../src/demo/platform.js';
import type { DenyReason } from '../../src/policy/reasons.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { request } from '../helpers/http.js';

/** the part of oidc-provider's API this test uses (the package ships no type declarations) */
interface OidcProvider {
  callback(): http.RequestListener;
}
interface OidcModule {
  default: new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;
  errors: { InvalidTarget: new (description?: string) => Error };
}

const GATEWAY_AUDIENCE = 'metagate-oidc';
const GATEWAY_RESOURCE = 'urn:metagate:vendor-api';
const OTHER_RESOURCE = 'urn:ministry:other-api';
const OPAQUE_RESOURCE = 'urn:ministry:opaque-api';
const SCOPE = 'metadata:read';
const FUTURE = new Date(Date.now() + 365 * 86400 * 1000).toISOString().slice(0, 10);
const PAST = new Date(Date.now() - 30 * 86400 * 1000).toISOString().slice(0, 10);

/** per-client identity, as an IdP would hold it per person */
const PEOPLE: Record<string, { secret: string; sub: string; claims: Record<string, unknown> }> = {
  'vendor-geheim': { secret: 'secret-geheim-0123456789', sub: 'anna.devries@vendor.example', claims: { nationality: 'NL', clearance: 'STG_GEHEIM', clearance_expires_at: FUTURE, org: 'vendor' } },
  'vendor-confidentieel': { secret: 'secret-conf-0123456789', sub: 'bram.jansen@vendor.example', claims: { nationality: 'NLD', clearance: 'STG_CONFIDENTIEEL', clearance_expires_at: FUTURE, org: 'vendor' } },
  'vendor-foreign': { secret: 'secret-foreign-0123456789', sub: 'carl.smith@vendor.example', claims: { nationality: 'US', clearance: 'STG_GEHEIM', clearance_expires_at: FUTURE, org: 'vendor' } },
  'vendor-expired': { secret: 'secret-expired-0123456789', sub: 'dirk.bakker@vendor.example', claims: { nationality: 'NL', clearance: 'STG_GEHEIM', clearance_expires_at: PAST, org: 'vendor' } },
  'vendor-rank': { secret: 'secret-rank-0123456789', sub: 'eva.visser@vendor.example', claims: { nationality: 'NL', clearance: '2', clearance_expires_at: FUTURE, org: 'vendor' } },
};

let issuer: string;
let providerServer: http.Server;
let discovery: { issuer: string; token_endpoint: string; jwks_uri: string };
let h: Harness;
let kid: string;

async function startProvider(): Promise<void> {
  const { default: Provider, errors } = (await import('oidc-provider' as string)) as OidcModule;
  let handler: http.RequestListener = (_req, res) => res.writeHead(503).end();
  providerServer = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((r) => providerServer.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(providerServer.address() as AddressInfo).port}`;

  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  kid = 'oidc-es256-1';
  const signingKey = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };

  const provider = new Provider(issuer, {
    clients: Object.entries(PEOPLE).map(([client_id, p]) => ({
      client_id,
      client_secret: p.secret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    })),
    jwks: { keys: [signingKey] },
    scopes: [SCOPE],
    ttl: { ClientCredentials: 600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource === GATEWAY_RESOURCE) return { scope: SCOPE, audience: GATEWAY_AUDIENCE, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
          if (resource === OTHER_RESOURCE) return { scope: SCOPE, audience: 'other-api', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
          if (resource === OPAQUE_RESOURCE) return { scope: SCOPE, audience: GATEWAY_AUDIENCE, accessTokenFormat: 'opaque' };
          throw new errors.InvalidTarget();
        },
      },
    },
    extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) => PEOPLE[token.clientId ?? '']?.claims,
    formats: {
      customizers: {
        jwt: (_ctx: unknown, token: { clientId?: string }, jwt: { payload: Record<string, unknown> }) => {
          const person = PEOPLE[token.clientId ?? ''];
          if (person) jwt.payload.sub = person.sub;
        },
      },
    },
  });
  handler = provider.callback();

  const res = await fetch(`${issuer}/.well-known/openid-configuration`);
  expect(res.status).toBe(200);
  discovery = (await res.json()) as typeof discovery;
}

/** a real token request: POST to the token endpoint with client_secret_basic */
async function obtainToken(clientId: string, resource = GATEWAY_RESOURCE): Promise<string> {
  const person = PEOPLE[clientId]!;
  const res = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(person.secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope: SCOPE }),
  });
  const body = (await res.json()) as { access_token?: string; token_type?: string; error?: string; error_description?: string };
  expect(res.status, JSON.stringify(body)).toBe(200);
  expect(body.token_type).toBe('Bearer');
  return body.access_token!;
}

async function waitForRecords(n: number) {
  const deadline = Date.now() + 3000;
  while (h.audit.requestRecords().length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
  return h.audit.requestRecords();
}

async function call(token: string, path: string, expected: { status: number; code?: DenyReason }) {
  const up = h.upstream.requests.length;
  const before = h.audit.requestRecords().length;
  const res = await request(h.vendorUrl, path, { headers: { authorization: `Bearer ${token}` } });
  const records = (await waitForRecords(before + 1)).slice(before);
  expect(res.status, res.body).toBe(expected.status);
  expect(records).toHaveLength(1);
  if (expected.code) {
    expect(res.json<{ code: string }>().code).toBe(expected.code);
    expect(records[0]!.metagate.reasons[0]).toBe(expected.code);
    expect(h.upstream.requests.length).toBe(up);
  } else {
    expect(records[0]!.metagate.decision).toBe('allow');
    expect(h.upstream.requests.length).toBe(up + 1);
  }
  return { res, record: records[0]! };
}

beforeAll(async () => {
  await startProvider();
  h = await startHarness({
    configure: (cfg) => {
      cfg.auth.issuer = discovery.issuer;
      cfg.auth.audience = GATEWAY_AUDIENCE;
      cfg.auth.jwks.url = discovery.jwks_uri; // plain http is accepted on loopback only
      cfg.auth.requiredClaims = ['sub', 'exp', 'iat', 'jti', 'client_id'];
    },
  });
});

afterAll(async () => {
  await h?.close();
  if (providerServer) {
    providerServer.closeAllConnections();
    await new Promise<void>((r) => providerServer.close(() => r()));
  }
});

describe('tokens from a real OpenID provider', () => {
  it('the provider publishes its ES256 key and the gateway trusts exactly that issuer', () => {
    expect(discovery.issuer).toBe(issuer);
    expect(discovery.jwks_uri.startsWith(`${issuer}/`)).toBe(true);
    expect(h.gateway.gateway.keys.status()).toMatchObject({ ok: true, source: 'url', keyCount: 1 });
  });

  it('issues an RFC 9068 JWT access token: typ at+jwt, ES256, the gateway as audience, the identity claims', async () => {
    const token = await obtainToken('vendor-geheim');
    const header = decodeProtectedHeader(token);
    expect(header).toMatchObject({ typ: 'at+jwt', alg: 'ES256', kid });
    const p = decodeJwt(token);
    expect(p).toMatchObject({ iss: issuer, aud: GATEWAY_AUDIENCE, client_id: 'vendor-geheim', sub: 'anna.devries@vendor.example', scope: SCOPE, nationality: 'NL', clearance: 'STG_GEHEIM', clearance_expires_at: FUTURE });
    expect(typeof p.jti).toBe('string');
    // the provider takes iat and exp from two clock reads, so a second boundary between them makes the span 599
    expect(p.exp! - p.iat!).toBeGreaterThanOrEqual(599);
    expect(p.exp! - p.iat!).toBeLessThanOrEqual(600);
  });

  it('allowed: a Dutch STG_GEHEIM engineer reads the catalogue (200) and lineage', async () => {
    const token = await obtainToken('vendor-geheim');
    const { record } = await call(token, '/api/v1/tables', { status: 200 });
    expect(record.user?.id).toBe('anna.devries@vendor.example');
    expect(record.metagate).toMatchObject({ nationality: 'NL', clearance: 'STG_GEHEIM' });
    await call(token, `/api/v1/lineage/table/${DEMO_TABLE_ID}`, { status: 200 });
  });

  it('allowed: NLD reads the catalogue; its STG_CONFIDENTIEEL clearance is refused on lineage (403)', async () => {
    const token = await obtainToken('vendor-confidentieel');
    await call(token, '/api/v1/tables', { status: 200 });
    const { res } = await call(token, `/api/v1/lineage/table/${DEMO_TABLE_ID}`, { status: 403, code: 'clearance_insufficient' });
    expect(res.json<{ detail: string }>().detail).toBe('clearance STG_CONFIDENTIEEL is below STG_GEHEIM, which lineage endpoints require');
  });

  it('refused: nationality US (403 nationality_not_allowed)', async () => {
    await call(await obtainToken('vendor-foreign'), '/api/v1/tables', { status: 403, code: 'nationality_not_allowed' });
  });

  it('refused: an expired clearance (403 clearance_expired)', async () => {
    await call(await obtainToken('vendor-expired'), '/api/v1/tables', { status: 403, code: 'clearance_expired' });
  });

  it('refused: a clearance given as the string "2" (403 clearance_claim_invalid)', async () => {
    await call(await obtainToken('vendor-rank'), '/api/v1/tables', { status: 403, code: 'clearance_claim_invalid' });
  });

  it('refused: a valid token from the same provider for another resource (401 audience_mismatch)', async () => {
    const token = await obtainToken('vendor-geheim', OTHER_RESOURCE);
    expect(decodeJwt(token).aud).toBe('other-api');
    await call(token, '/api/v1/tables', { status: 401, code: 'audience_mismatch' });
  });

  it('refused: an opaque access token from the same provider (401 token_invalid)', async () => {
    const token = await obtainToken('vendor-geheim', OPAQUE_RESOURCE);
    expect(token.split('.')).toHaveLength(1);
    await call(token, '/api/v1/tables', { status: 401, code: 'token_invalid' });
  });

  it('refused: a token from the harness dev issuer, which this gateway no longer trusts (401)', async () => {
    // the dev issuer's key is not in the provider's JWKS: refused as an unknown key before the issuer is compared
    await call(await h.token('geheim'), '/api/v1/tables', { status: 401, code: 'token_invalid' });
  });

  it('the provider refuses a resource it does not know (no token is issued at all)', async () => {
    const res = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`vendor-geheim:${PEOPLE['vendor-geheim']!.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: 'urn:unknown', scope: SCOPE }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_target');
  });
});
