// A whole gateway on loopback for tests: recording upstream, real JWKS endpoint, dev issuer, in-memory audit sink.

import type { Logger } from 'pino';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { buildRuntime, type Runtime } from '../../src/config/load.js';
import { startGateway, type RunningGateway } from '../../src/server.js';
import { createDevIssuer, personas, type DevIssuer } from '../../src/demo/issuer.js';
import { startDemoPlatform } from '../../src/demo/platform.js';
import { createLogger } from '../../src/observability/logger.js';
import type { StateStore } from '../../src/state/store.js';
import type { RequestAuditRecord } from '../../src/observability/audit.js';

export const ISSUER = 'https://idp.test.metagate.invalid';
export const AUDIENCE = 'metagate-test';
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef0123456789';

export interface RecordedUpstreamRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface Upstream {
  url: string;
  requests: RecordedUpstreamRequest[];
  /** replace how the upstream answers (default: the demo platform) */
  setHandler(h: UpstreamHandler | null): void;
  close(): Promise<void>;
}

/** The demo platform behind a recording proxy, so tests can swap in misbehaving answers. */
export async function startUpstream(): Promise<Upstream> {
  const platform = await startDemoPlatform();
  const target = new URL(platform.url);
  const requests: RecordedUpstreamRequest[] = [];
  let handler: UpstreamHandler | null = null;
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } });
    if (handler) return handler(req, res);
    const p = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (pr) => {
      res.writeHead(pr.statusCode ?? 502, pr.headers);
      pr.pipe(res);
    });
    p.on('error', () => res.destroy());
    req.pipe(p);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setHandler: (h) => {
      handler = h;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await platform.close();
    },
  };
}

export interface JwksServer {
  url: string;
  /** what the endpoint serves; set to a function to simulate failures */
  serve: { keys: unknown } | ((req: http.IncomingMessage, res: http.ServerResponse) => void);
  hits: number;
  close(): Promise<void>;
}

export async function startJwksServer(initial: { keys: unknown }): Promise<JwksServer> {
  const state: JwksServer = { url: '', serve: initial, hits: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    state.hits++;
    const s = state.serve;
    if (typeof s === 'function') return s(req, res);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  state.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return state;
}

/** Collects audit lines in memory, synchronously, as the audit trail writes them. */
export class AuditSink extends Writable {
  readonly lines: string[] = [];
  private partial = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const text = this.partial + chunk.toString();
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const p of parts) if (p) this.lines.push(p);
    cb();
  }
  records(): Array<Record<string, unknown>> {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  requestRecords(): RequestAuditRecord[] {
    return this.records().filter((r) => (r.event as { action?: string })?.action === 'vendor_request') as unknown as RequestAuditRecord[];
  }
}

export function baseConfig(o: { upstreamUrl: string; jwksUrl: string }): Record<string, unknown> {
  return {
    vendor: { host: '127.0.0.1', port: 0, shutdownGraceMs: 5000 },
    admin: { host: '127.0.0.1', port: 0, tokens: [{ name: 'test-operator', secret: { env: 'METAGATE_TEST_ADMIN_TOKEN' } }] },
    upstream: { url: o.upstreamUrl, credential: { header: 'authorization', value: { env: 'METAGATE_TEST_UPSTREAM_TOKEN' } }, responseTimeoutMs: 3000, connectTimeoutMs: 1000 },
    auth: { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], requiredClaims: ['sub', 'exp', 'iat', 'jti'], jwks: { url: o.jwksUrl, cooldownSec: 1 } },
    policy: { categories: { catalogue: { minClearance: 'STG_CONFIDENTIEEL' }, lineage: { minClearance: 'STG_GEHEIM' }, usage: { minClearance: 'STG_CONFIDENTIEEL' } } },
    routes: { profiles: ['openmetadata'] },
    state: { backend: 'memory', rateLimit: { perSubject: 100000, windowSec: 60 } },
    audit: { destination: 'stdout' },
    log: { level: 'silent' },
  };
}

export const TEST_ENV = { METAGATE_TEST_ADMIN_TOKEN: ADMIN_TOKEN, METAGATE_TEST_UPSTREAM_TOKEN: 'Bearer upstream-service-credential' };

export interface HarnessOptions {
  /** edit the config object before it is built */
  configure?: (cfg: Record<string, any>) => void;
  store?: StateStore;
  now?: () => number;
  /** write the audit trail to this file instead of the in-memory sink (`audit` then stays empty) */
  auditFile?: string;
  /** the operational logger (default: silent) */
  logger?: Logger;
}

export interface Harness {
  gateway: RunningGateway;
  runtime: Runtime;
  vendorUrl: string;
  adminUrl: string;
  vendorPort: number;
  issuer: DevIssuer;
  jwks: JwksServer;
  upstream: Upstream;
  audit: AuditSink;
  /** a token for a demo persona (geheim, confidentieel, foreign, expired) or explicit claims */
  token(persona: string | Record<string, unknown>, opts?: Parameters<DevIssuer['mint']>[1]): Promise<string>;
  close(): Promise<void>;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const issuer = await createDevIssuer({ issuer: ISSUER, audience: AUDIENCE, kid: 'test-key-1', ...(opts.now ? { now: opts.now } : {}) });
  const jwks = await startJwksServer(issuer.jwks);
  const upstream = await startUpstream();
  const cfg = baseConfig({ upstreamUrl: upstream.url, jwksUrl: jwks.url }) as Record<string, any>;
  opts.configure?.(cfg);
  const runtime = buildRuntime(cfg, { env: TEST_ENV, source: 'test harness' });
  const audit = new AuditSink();
  const gateway = await startGateway(runtime, {
    auditDestination: opts.auditFile ?? audit,
    logger: opts.logger ?? createLogger('silent'),
    ...(opts.store ? { store: opts.store } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  const nowSec = () => Math.floor((opts.now ?? Date.now)() / 1000);
  return {
    gateway,
    runtime,
    vendorUrl: gateway.vendorUrl,
    adminUrl: gateway.adminUrl,
    vendorPort: Number(new URL(gateway.vendorUrl).port),
    issuer,
    jwks,
    upstream,
    audit,
    token: (persona, o) => {
      const claims = typeof persona === 'string' ? personas(nowSec())[persona]?.claims : persona;
      if (!claims) throw new Error(`unknown persona ${String(persona)}`);
      return issuer.mint(claims, o);
    },
    close: async () => {
      await gateway.close();
      await upstream.close();
      await jwks.close();
    },
  };
}
