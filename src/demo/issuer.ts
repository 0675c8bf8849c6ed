// Development token issuer for the demo and tests: an ES256 key, a JWKS endpoint, and persona access tokens.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type CryptoKey } from 'jose';

export interface Persona {
  description: string;
  claims: Record<string, unknown>;
}

const YEAR_S = 365 * 86400;

/** The demo personas; clearance expiry is relative to when the token is minted. */
export function personas(nowSec: number): Record<string, Persona> {
  const future = new Date((nowSec + YEAR_S) * 1000).toISOString().slice(0, 10);
  const past = new Date((nowSec - 30 * 86400) * 1000).toISOString().slice(0, 10);
  return {
    geheim: { description: 'Dutch, STG_GEHEIM (catalogue, lineage, usage)', claims: { sub: 'anna.devries@vendor.example', nationality: 'NL', clearance: 'STG_GEHEIM', clearance_expires_at: future, org: 'vendor' } },
    confidentieel: { description: 'Dutch, STG_CONFIDENTIEEL (catalogue, usage; not lineage)', claims: { sub: 'bram.jansen@vendor.example', nationality: 'NLD', clearance: 'STG_CONFIDENTIEEL', clearance_expires_at: future, org: 'vendor' } },
    foreign: { description: 'not Dutch (refused)', claims: { sub: 'carl.smith@vendor.example', nationality: 'US', clearance: 'STG_GEHEIM', clearance_expires_at: future, org: 'vendor' } },
    expired: { description: 'Dutch, clearance expired (refused)', claims: { sub: 'dirk.bakker@vendor.example', nationality: 'NL', clearance: 'STG_GEHEIM', clearance_expires_at: past, org: 'vendor' } },
  };
}

export interface DevIssuer {
  issuer: string;
  audience: string;
  kid: string;
  jwks: { keys: JWK[] };
  privateKey: CryptoKey;
  /** mint an access token (typ at+jwt) with these claims on top of iss/aud/iat/exp/jti */
  mint(claims: Record<string, unknown>, opts?: { expiresInSec?: number; header?: Record<string, unknown>; iat?: number }): Promise<string>;
}

export async function createDevIssuer(opts: { issuer: string; audience: string; kid?: string; now?: () => number }): Promise<DevIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = opts.kid ?? `demo-${Math.random().toString(36).slice(2, 10)}`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const now = opts.now ?? Date.now;
  let counter = 0;
  return {
    issuer: opts.issuer,
    audience: opts.audience,
    kid,
    jwks: { keys: [jwk] },
    privateKey,
    async mint(claims, o = {}) {
      const iat = o.iat ?? Math.floor(now() / 1000);
      return new SignJWT({ jti: `demo-${iat}-${++counter}`, ...claims })
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt', ...(o.header ?? {}) })
        .setIssuer(opts.issuer)
        .setAudience(opts.audience)
        .setIssuedAt(iat)
        .setExpirationTime(iat + (o.expiresInSec ?? 3600))
        .sign(privateKey);
    },
  };
}

/** Serve the issuer over loopback HTTP: GET /.well-known/jwks.json and GET /token/<persona>. */
export async function startIssuerServer(issuer: DevIssuer, opts: { host?: string; port?: number } = {}): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    void (async () => {
      if (req.method === 'GET' && req.url === '/.well-known/jwks.json') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(issuer.jwks));
        return;
      }
      const m = /^\/token\/([a-z]+)$/.exec(req.url ?? '');
      const persona = m ? personas(Math.floor(Date.now() / 1000))[m[1]!] : undefined;
      if (req.method === 'GET' && persona) {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(await issuer.mint(persona.claims));
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('personas: /token/geheim, /token/confidentieel, /token/foreign, /token/expired\n');
    })();
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const a = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${a.port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
