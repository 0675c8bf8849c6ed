// No telemetry, no other outbound traffic: every connection the process opens while a gateway (Redis-backed) serves,
// reloads and answers its admin API goes to the upstream, the JWKS endpoint, Redis, or the test's own client calls.

import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { startGateway, type RunningGateway } from '../../src/server.js';
import { createLogger } from '../../src/observability/logger.js';
import { createDevIssuer, personas, type DevIssuer } from '../../src/demo/issuer.js';
import { startDemoPlatform, DEMO_TABLE_ID, type DemoPlatform } from '../../src/demo/platform.js';
import { ADMIN_TOKEN, AUDIENCE, AuditSink, baseConfig, ISSUER, startJwksServer, TEST_ENV, type JwksServer } from '../helpers/harness.js';
import { request } from '../helpers/http.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

interface Outbound {
  kind: 'tcp' | 'udp' | 'ipc';
  to: string;
  stack: string;
}

const seen: Outbound[] = [];
const originalConnect = net.Socket.prototype.connect;
const originalSend = dgram.Socket.prototype.send;

/** Record the destination of every socket connect (net, tls, http, undici and ioredis all end up here) and UDP send. */
function startRecording(): void {
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const first = args[0];
    const opts = (Array.isArray(first) ? first[0] : first) as { port?: number | string; host?: string; path?: string } | number | string;
    let to: string;
    if (typeof opts === 'object' && opts !== null) to = opts.path ? `ipc:${opts.path}` : `${opts.host ?? 'localhost'}:${opts.port}`;
    else if (typeof opts === 'number' || /^\d+$/.test(String(opts))) to = `${typeof args[1] === 'string' ? args[1] : 'localhost'}:${opts}`;
    else to = `ipc:${String(opts)}`;
    seen.push({ kind: to.startsWith('ipc:') ? 'ipc' : 'tcp', to, stack: new Error().stack ?? '' });
    return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;
  dgram.Socket.prototype.send = function (this: dgram.Socket, ...args: unknown[]) {
    seen.push({ kind: 'udp', to: `${String(args[args.length - 2] ?? '')}:${String(args[args.length - 3] ?? '')}`, stack: new Error().stack ?? '' });
    return (originalSend as (...a: unknown[]) => void).apply(this, args);
  } as typeof dgram.Socket.prototype.send;
}

function stopRecording(): void {
  net.Socket.prototype.connect = originalConnect;
  dgram.Socket.prototype.send = originalSend;
}

let dir: string;
let redis: RedisServerHandle;
let platform: DemoPlatform;
let jwks: JwksServer;
let issuer: DevIssuer;
let g: RunningGateway;
let configFile: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'metagate-outbound-'));
  redis = await startRedisServer();
  platform = await startDemoPlatform();
  issuer = await createDevIssuer({ issuer: ISSUER, audience: AUDIENCE, kid: 'outbound-1' });
  jwks = await startJwksServer(issuer.jwks);
  const cfg = baseConfig({ upstreamUrl: platform.url, jwksUrl: jwks.url }) as Record<string, any>;
  cfg.state = { backend: 'redis', redis: { mode: 'single', url: redis.url }, rateLimit: { perSubject: 1000, windowSec: 60 } };
  cfg.sovereignty = { allowedRanges: ['127.0.0.0/8'] };
  cfg.log = { level: 'silent' };
  configFile = join(dir, 'metagate.yaml');
  writeFileSync(configFile, stringify(cfg));
  Object.assign(process.env, TEST_ENV);
  startRecording();
  g = await startGateway(loadConfigFile(configFile), { configPath: configFile, auditDestination: new AuditSink(), logger: createLogger('silent') });
});

afterAll(async () => {
  await g?.close();
  stopRecording();
  await jwks?.close();
  await platform?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('outbound connections', () => {
  it('go only to the upstream, the JWKS endpoint and Redis (besides the test client itself)', async () => {
    const token = await issuer.mint(personas(Math.floor(Date.now() / 1000)).geheim!.claims);
    const auth = { authorization: `Bearer ${token}` };
    const statuses: number[] = [];
    for (const path of [`/api/v1/tables/${DEMO_TABLE_ID}`, `/api/v1/lineage/table/${DEMO_TABLE_ID}`, '/api/v1/tables/nope/sampleData', '/_metagate/whoami']) {
      statuses.push((await request(g.vendorUrl, path, { headers: auth })).status);
    }
    statuses.push((await request(g.vendorUrl, `/api/v1/tables/${DEMO_TABLE_ID}`)).status);
    // an unknown kid makes the gateway go back to the IdP
    const otherIssuer = await createDevIssuer({ issuer: ISSUER, audience: AUDIENCE, kid: 'unknown-kid' });
    statuses.push((await request(g.vendorUrl, `/api/v1/tables/${DEMO_TABLE_ID}`, { headers: { authorization: `Bearer ${await otherIssuer.mint({ sub: 'x' })}` } })).status);
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    statuses.push((await request(g.adminUrl, '/readyz')).status);
    statuses.push((await request(g.adminUrl, '/metrics')).status);
    statuses.push((await request(g.adminUrl, '/admin/reload', { method: 'POST', headers: admin })).status);
    statuses.push((await request(g.adminUrl, '/admin/suspend', { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: '{"reason":"exercise"}' })).status);
    statuses.push((await request(g.vendorUrl, `/api/v1/tables/${DEMO_TABLE_ID}`, { headers: auth })).status);
    statuses.push((await request(g.adminUrl, '/admin/resume', { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: '{}' })).status);
    expect(statuses).toEqual([200, 200, 404, 200, 401, 401, 200, 200, 200, 201, 403, 200]);

    const port = (u: string) => new URL(u).port;
    const allowed = new Map<string, string>([
      [`127.0.0.1:${port(platform.url)}`, 'upstream'],
      [`127.0.0.1:${port(jwks.url)}`, 'JWKS'],
      [`127.0.0.1:${redis.port}`, 'Redis'],
      [`127.0.0.1:${port(g.vendorUrl)}`, 'test client → vendor listener'],
      [`127.0.0.1:${port(g.adminUrl)}`, 'test client → admin listener'],
    ]);
    const unexpected = seen.filter((o) => !allowed.has(o.to));
    expect(unexpected.map((o) => `${o.kind} ${o.to}\n${o.stack.split('\n').slice(2, 6).join('\n')}`)).toEqual([]);
    // the recorder did see the gateway's own outbound traffic
    const reached = new Set(seen.map((o) => allowed.get(o.to)));
    expect(reached).toEqual(new Set(allowed.values()));
    expect(seen.filter((o) => o.kind === 'udp')).toEqual([]);
  });

  it('the recorder catches connections made through fetch, http and raw sockets (self-check)', async () => {
    const before = seen.length;
    const server = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const p = (server.address() as net.AddressInfo).port;
    await fetch(`http://127.0.0.1:${p}/`).then((r) => r.text());
    await request(`http://127.0.0.1:${p}`, '/');
    await new Promise<void>((r) => net.connect({ host: '127.0.0.1', port: p }, function (this: net.Socket) {
      this.destroy();
      r();
    }));
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    expect(seen.slice(before).map((o) => o.to)).toEqual([`127.0.0.1:${p}`, `127.0.0.1:${p}`, `127.0.0.1:${p}`]);
  });
});
