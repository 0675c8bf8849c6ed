// A real `metagate serve` child process for the lifecycle tests: a slow loopback upstream, a local JWKS file, a config
// file the tests rewrite, and the child's JSON log lines on stderr.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { createDevIssuer, personas, type DevIssuer } from '../../src/demo/issuer.js';
import { AUDIENCE, ISSUER, TEST_ENV } from '../helpers/harness.js';

export const SLOW_ID = '5a0e0000-0000-4000-8000-000000000001';
export const FAST_ID = 'fa570000-0000-4000-8000-000000000002';
export const SLOW_MS = 1500;
const ROOT = resolve(import.meta.dirname, '../..');

export interface SlowUpstream {
  url: string;
  /** ids of requests the upstream has received (in arrival order) */
  received: string[];
  close(): Promise<void>;
}

/** Answers GET /api/v1/tables/{id} with a small JSON entity; SLOW_ID after SLOW_MS. */
export async function startSlowUpstream(): Promise<SlowUpstream> {
  const received: string[] = [];
  const server = http.createServer((req, res) => {
    const id = /^\/api\/v1\/tables\/([0-9a-f-]{36})$/.exec(req.url ?? '')?.[1];
    if (!id) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":404}');
      return;
    }
    received.push(id);
    const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id, name: `table-${id.slice(0, 4)}`, fullyQualifiedName: `svc.db.schema.t${id.slice(0, 4)}` }));
    if (id === SLOW_ID) setTimeout(answer, SLOW_MS);
    else answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface Workspace {
  dir: string;
  configFile: string;
  auditFile: string;
  issuer: DevIssuer;
  upstream: SlowUpstream;
  /** the config as an object; `write` serialises it (or raw text) to configFile */
  config: Record<string, any>;
  write(textOrConfig?: string | Record<string, any>): void;
  token(persona: 'geheim' | 'confidentieel'): Promise<string>;
  auditRecords(): Array<Record<string, any>>;
  remove(): Promise<void>;
}

export async function createWorkspace(): Promise<Workspace> {
  const dir = mkdtempSync(join(tmpdir(), 'metagate-lifecycle-'));
  const issuer = await createDevIssuer({ issuer: ISSUER, audience: AUDIENCE, kid: 'lifecycle-1' });
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify(issuer.jwks));
  const upstream = await startSlowUpstream();
  const auditFile = join(dir, 'audit.jsonl');
  const config: Record<string, any> = {
    vendor: { host: '127.0.0.1', port: 0, shutdownGraceMs: 5000 },
    admin: { host: '127.0.0.1', port: 0, tokens: [{ name: 'test-operator', secret: { env: 'METAGATE_TEST_ADMIN_TOKEN' } }] },
    upstream: { url: upstream.url, responseTimeoutMs: 5000 },
    auth: { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], requiredClaims: ['sub', 'exp', 'iat', 'jti'], jwks: { file: 'jwks.json' } },
    policy: { categories: { catalogue: { minClearance: 'STG_CONFIDENTIEEL' }, lineage: { minClearance: 'STG_GEHEIM' }, usage: { minClearance: 'STG_CONFIDENTIEEL' } } },
    routes: { profiles: ['openmetadata'] },
    state: { backend: 'memory', rateLimit: { perSubject: 100000, windowSec: 60 } },
    audit: { destination: auditFile },
    sovereignty: { allowedRanges: ['127.0.0.0/8'] },
    log: { level: 'info' },
  };
  const configFile = join(dir, 'metagate.yaml');
  const ws: Workspace = {
    dir,
    configFile,
    auditFile,
    issuer,
    upstream,
    config,
    write: (c = config) => writeFileSync(configFile, typeof c === 'string' ? c : stringify(c)),
    token: (p) => issuer.mint(personas(Math.floor(Date.now() / 1000))[p]!.claims),
    auditRecords: () =>
      existsSync(auditFile)
        ? readFileSync(auditFile, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, any>)
        : [],
    remove: async () => {
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  ws.write();
  return ws;
}

export interface Child {
  proc: ChildProcess;
  vendorUrl: string;
  adminUrl: string;
  /** every JSON log line so far */
  logs: Array<Record<string, any>>;
  stderr(): string;
  waitForLog(pred: (l: Record<string, any>) => boolean, timeoutMs?: number): Promise<Record<string, any>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): void;
}

/** `node --import tsx src/cli.ts serve --config FILE`, resolved once it logs "metagate listening". */
export async function startCli(configFile: string): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--config', configFile], {
    cwd: ROOT,
    env: { ...process.env, ...TEST_ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  let partial = '';
  const logs: Array<Record<string, any>> = [];
  const waiters = new Set<() => void>();
  proc.stderr!.on('data', (c: Buffer) => {
    text += c.toString('utf8');
    const lines = (partial + c.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      try {
        logs.push(JSON.parse(l) as Record<string, any>);
      } catch {
        // not a log line (a stack trace); kept in stderr()
      }
    }
    for (const w of waiters) w();
  });
  proc.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  const waitForLog = (pred: (l: Record<string, any>) => boolean, timeoutMs = 15_000) =>
    new Promise<Record<string, any>>((resolve, reject) => {
      const check = () => {
        const hit = logs.find(pred);
        if (hit) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`log line not seen within ${timeoutMs} ms; stderr so far:\n${text}`));
      }, timeoutMs);
      waiters.add(check);
      void exited.then(() => setTimeout(check, 10));
      check();
    });
  const listening = await waitForLog((l) => l.msg === 'metagate listening', 30_000);
  return {
    proc,
    vendorUrl: listening.vendor as string,
    adminUrl: listening.admin as string,
    logs,
    stderr: () => text,
    waitForLog,
    exited,
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}
