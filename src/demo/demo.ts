// `metagate demo`: the gateway on embedded defaults — demo platform, dev issuer, in-memory state, loopback only.

import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRuntime, type Runtime } from '../config/load.js';
import { startGateway, type RunningGateway } from '../server.js';
import { DEMO_TABLE_ID, DEMO_TABLE_FQN } from './data.js';
import { createDevIssuer, personas, startIssuerServer } from './issuer.js';
import { startDemoPlatform } from './platform.js';

export interface DemoOptions {
  vendorPort?: number;
  adminPort?: number;
  platformPort?: number;
  issuerPort?: number;
  auditFile?: string;
  quiet?: boolean;
}

export const DEMO_ISSUER = 'https://idp.demo.metagate.invalid';
export const DEMO_AUDIENCE = 'metagate-demo';

export function demoConfig(o: { platformUrl: string; jwksUrl: string; vendorPort: number; adminPort: number; auditFile: string }): Record<string, unknown> {
  return {
    vendor: { host: '127.0.0.1', port: o.vendorPort },
    admin: { host: '127.0.0.1', port: o.adminPort, tokens: [{ name: 'demo-operator', secret: { env: 'METAGATE_DEMO_ADMIN_TOKEN' } }] },
    // the demo platform writes its links as OpenMetadata on openmetadata.internal would
    upstream: { url: o.platformUrl, credential: { header: 'authorization', value: { env: 'METAGATE_DEMO_UPSTREAM_TOKEN' } }, hiddenOrigins: ['http://openmetadata.internal:8585'] },
    auth: { issuer: DEMO_ISSUER, audience: DEMO_AUDIENCE, algorithms: ['ES256'], requiredClaims: ['sub', 'exp', 'iat', 'jti'], jwks: { url: o.jwksUrl } },
    policy: {
      categories: { catalogue: { minClearance: 'STG_CONFIDENTIEEL' }, lineage: { minClearance: 'STG_GEHEIM' }, usage: { minClearance: 'STG_CONFIDENTIEEL' } },
    },
    routes: { profiles: ['openmetadata'] },
    state: { backend: 'memory', rateLimit: { perSubject: 600, windowSec: 60 } },
    audit: { destination: o.auditFile },
    sovereignty: { allowedRanges: ['127.0.0.0/8'] },
    log: { level: 'warn' },
  };
}

export interface RunningDemo {
  gateway: RunningGateway;
  runtime: Runtime;
  adminToken: string;
  issuerUrl: string;
  platformUrl: string;
  auditFile: string;
  close(): Promise<void>;
}

export async function startDemo(opts: DemoOptions = {}): Promise<RunningDemo> {
  const platform = await startDemoPlatform({ host: '127.0.0.1', port: opts.platformPort ?? 0 });
  const issuer = await createDevIssuer({ issuer: DEMO_ISSUER, audience: DEMO_AUDIENCE });
  const issuerServer = await startIssuerServer(issuer, { port: opts.issuerPort ?? 0 });
  const adminToken = randomBytes(24).toString('base64url');
  const auditFile = opts.auditFile ?? join(mkdtempSync(join(tmpdir(), 'metagate-demo-')), 'audit.jsonl');
  const env = { METAGATE_DEMO_ADMIN_TOKEN: adminToken, METAGATE_DEMO_UPSTREAM_TOKEN: `Bearer demo-service-${randomBytes(8).toString('hex')}` };
  const runtime = buildRuntime(
    demoConfig({ platformUrl: platform.url, jwksUrl: `${issuerServer.url}/.well-known/jwks.json`, vendorPort: opts.vendorPort ?? 8080, adminPort: opts.adminPort ?? 9090, auditFile }),
    { env, source: 'embedded demo defaults' },
  );
  const gateway = await startGateway(runtime, { signals: false });
  return {
    gateway,
    runtime,
    adminToken,
    issuerUrl: issuerServer.url,
    platformUrl: platform.url,
    auditFile,
    async close() {
      await gateway.close();
      await issuerServer.close();
      await platform.close();
    },
  };
}

export function demoBanner(d: RunningDemo): string {
  const v = d.gateway.vendorUrl;
  const a = d.gateway.adminUrl;
  const t = (p: string) => `$(curl -s ${d.issuerUrl}/token/${p})`;
  const ps = personas(Math.floor(Date.now() / 1000));
  const line = '='.repeat(78);
  return [
    line,
    ' METAGATE DEMO MODE — embedded defaults, NOT FOR PRODUCTION',
    ' dev token issuer, demo metadata platform and in-memory state, all on loopback',
    line,
    ` vendor listener  ${v}`,
    ` admin listener   ${a}   (admin token: ${d.adminToken})`,
    ` demo platform    ${d.platformUrl}   (the upstream; OpenMetadata-shaped, with data endpoints)`,
    ` token issuer     ${d.issuerUrl}`,
    ` audit trail      ${d.auditFile}   (tail -f it to watch every decision)`,
    '',
    ' Personas:',
    ...Object.entries(ps).map(([k, p]) => `   ${k.padEnd(14)} ${p.description}`),
    '',
    ' Try (copy and paste):',
    `   curl -s -H "Authorization: Bearer ${t('geheim')}" ${v}/api/v1/tables/${DEMO_TABLE_ID}            # 200, data fields removed`,
    `   curl -s -H "Authorization: Bearer ${t('geheim')}" "${v}/api/v1/tables/name/${DEMO_TABLE_FQN}?fields=columns,owners,tags"   # 200`,
    `   curl -s -H "Authorization: Bearer ${t('confidentieel')}" ${v}/api/v1/lineage/table/${DEMO_TABLE_ID}   # 403 clearance_insufficient`,
    `   curl -s -H "Authorization: Bearer ${t('foreign')}" ${v}/api/v1/tables/${DEMO_TABLE_ID}            # 403 nationality_not_allowed`,
    `   curl -s -H "Authorization: Bearer ${t('expired')}" ${v}/api/v1/tables/${DEMO_TABLE_ID}            # 403 clearance_expired`,
    `   curl -s -H "Authorization: Bearer ${t('geheim')}" ${v}/api/v1/tables/${DEMO_TABLE_ID}/sampleData   # 404 route_not_allowed (data endpoint)`,
    `   curl -s -H "Authorization: Bearer ${t('geheim')}" "${v}/api/v1/tables/${DEMO_TABLE_ID}?fields=sampleData"   # 403 query_value_not_allowed`,
    `   curl -s ${v}/api/v1/tables/${DEMO_TABLE_ID}                                   # 401 token_missing`,
    `   curl -s -H "Authorization: Bearer ${t('confidentieel')}" ${v}/_metagate/whoami   # how the gateway sees you`,
    `   curl -s ${a}/readyz ; curl -s ${a}/metrics | grep metagate_requests_total`,
    `   curl -s -H "Authorization: Bearer ${d.adminToken}" -H 'content-type: application/json' -d '{"reason":"exercise"}' ${a}/admin/suspend   # kill switch`,
    line,
  ].join('\n');
}
