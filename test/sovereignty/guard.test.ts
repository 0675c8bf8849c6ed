// The start-time guard: the upstream, the JWKS URL and Redis must resolve inside sovereignty.allowedRanges, or the
// gateway does not start (library and CLI), and a reload cannot point the JWKS URL outside them either.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRuntime, loadConfigFile } from '../../src/config/load.js';
import { startGateway } from '../../src/server.js';
import { SovereigntyError } from '../../src/sovereignty/guard.js';
import { createLogger } from '../../src/observability/logger.js';
import { createDevIssuer } from '../../src/demo/issuer.js';
import { AUDIENCE, AuditSink, baseConfig, ISSUER, startHarness, startJwksServer, TEST_ENV, type JwksServer } from '../helpers/harness.js';
import { request } from '../helpers/http.js';
import { freePorts } from '../helpers/ports.js';
import { DEMO_TABLE_ID } from '../../src/demo/platform.js';

const run = promisify(execFile);

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

let dir: string;
let jwksFile: string;
let jwks: JwksServer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'metagate-guard-'));
  const issuer = await createDevIssuer({ issuer: ISSUER, audience: AUDIENCE });
  jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify(issuer.jwks));
  jwks = await startJwksServer(issuer.jwks);
});
afterAll(async () => {
  await jwks?.close();
  rmSync(dir, { recursive: true, force: true });
});

function config(edit: (c: Record<string, any>) => void): Record<string, any> {
  const c = baseConfig({ upstreamUrl: 'http://127.0.0.1:9', jwksUrl: jwks.url }) as Record<string, any>;
  edit(c);
  return c;
}

async function startError(cfg: Record<string, any>): Promise<Error> {
  const runtime = buildRuntime(cfg, { env: TEST_ENV });
  return startGateway(runtime, { auditDestination: new AuditSink(), logger: createLogger('silent') }).then(
    async (g) => {
      await g.close();
      throw new Error('the gateway started');
    },
    (err: Error) => err,
  );
}

describe('start-time sovereignty guard', () => {
  it('refuses to start when the upstream lies outside the ranges, naming key, address and ranges; nothing listens', async () => {
    const [vendorPort, adminPort] = (await freePorts(2)) as [number, number];
    const err = await startError(
      config((c) => {
        c.vendor.port = vendorPort;
        c.admin.port = adminPort;
        c.auth.jwks = { file: jwksFile };
        c.sovereignty = { allowedRanges: ['10.0.0.0/8', 'fd00::/8'] };
      }),
    );
    expect(err).toBeInstanceOf(SovereigntyError);
    expect(err.message).toBe('sovereignty guard refused to start:\n  - upstream.url: 127.0.0.1 resolves to 127.0.0.1, outside the allowed ranges (10.0.0.0/8, fd00::/8)');
    expect(await refused(vendorPort)).toBe(true);
    expect(await refused(adminPort)).toBe(true);
  });

  it('lists every outbound host outside the ranges at once: upstream, JWKS URL and Redis', async () => {
    const err = await startError(
      config((c) => {
        c.upstream.url = 'http://10.1.2.3:8585';
        c.auth.jwks = { url: 'https://192.0.2.10/jwks.json' };
        c.state = { backend: 'redis', redis: { mode: 'single', url: 'redis://198.51.100.4:6379' } };
        c.sovereignty = { allowedRanges: ['10.0.0.0/8'] };
      }),
    );
    expect(err.message).not.toContain('upstream.url');
    expect(err.message).toContain('auth.jwks.url: 192.0.2.10 resolves to 192.0.2.10, outside the allowed ranges (10.0.0.0/8)');
    expect(err.message).toContain('state.redis.url: 198.51.100.4 resolves to 198.51.100.4, outside the allowed ranges (10.0.0.0/8)');
  });

  it('refuses a host name that does not resolve', async () => {
    const err = await startError(
      config((c) => {
        c.upstream.url = 'http://metadata.invalid:8585';
        c.auth.jwks = { file: jwksFile };
        c.sovereignty = { allowedRanges: ['10.0.0.0/8'] };
      }),
    );
    expect(err.message).toContain('upstream.url: host metadata.invalid does not resolve');
  });

  it('starts and serves when every outbound host is inside the ranges', async () => {
    const h = await startHarness({ configure: (c) => void (c.sovereignty = { allowedRanges: ['127.0.0.0/8'] }) });
    try {
      const res = await request(h.vendorUrl, `/api/v1/tables/${DEMO_TABLE_ID}`, { headers: { authorization: `Bearer ${await h.token('geheim')}` } });
      expect(res.status).toBe(200);
    } finally {
      await h.close();
    }
  });

  it('the CLI exits 1 with the guard message on stderr', async () => {
    const file = join(dir, 'outside.yaml');
    writeFileSync(
      file,
      stringify(
        config((c) => {
          c.upstream.url = 'http://127.0.0.1:9';
          c.auth.jwks = { file: jwksFile };
          c.sovereignty = { allowedRanges: ['10.20.0.0/16'] };
        }),
      ),
    );
    const r = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--config', file], { env: { ...process.env, ...TEST_ENV }, timeout: 20_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('metagate failed to start: sovereignty guard refused to start');
    expect(r.stderr).toContain('upstream.url: 127.0.0.1 resolves to 127.0.0.1, outside the allowed ranges (10.20.0.0/16)');
  });
});

describe('reload passes the same guard', () => {
  it('refuses a reload that points the JWKS URL outside the ranges; the old configuration keeps serving', async () => {
    // a reload reads secrets from the process environment, as the CLI's would
    Object.assign(process.env, TEST_ENV);
    const h = await startHarness({ configure: (c) => void (c.sovereignty = { allowedRanges: ['127.0.0.0/8'] }) });
    const file = join(dir, 'reload.yaml');
    try {
      const good = config((c) => {
        c.upstream.url = h.upstream.url;
        c.auth.jwks = { url: h.jwks.url, cooldownSec: 1 };
        c.sovereignty = { allowedRanges: ['127.0.0.0/8'] };
      });
      writeFileSync(file, stringify(good));
      const g = await startGateway(loadConfigFile(file, { env: TEST_ENV }), { configPath: file, auditDestination: new AuditSink(), logger: createLogger('silent') });
      try {
        const hashBefore = g.gateway.runtime.hash;
        writeFileSync(file, stringify({ ...good, auth: { ...good.auth, jwks: { url: 'https://192.0.2.10/jwks.json' } } }));
        const r = await g.reload();
        expect(r).toEqual({ ok: false, problems: ['auth.jwks.url: 192.0.2.10 resolves to 192.0.2.10, outside the allowed ranges (127.0.0.0/8)'] });
        expect(g.gateway.runtime.hash).toBe(hashBefore);
        const metrics = await request(g.adminUrl, '/metrics');
        expect(metrics.body).toMatch(/metagate_config_reloads_total\{result="failure"\} 1/);
        const res = await request(g.vendorUrl, `/api/v1/tables/${DEMO_TABLE_ID}`, { headers: { authorization: `Bearer ${await h.token('geheim')}` } });
        expect(res.status).toBe(200);
      } finally {
        await g.close();
      }
    } finally {
      await h.close();
    }
  });
});
