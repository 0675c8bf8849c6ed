// Tools for the fault-injection tests: switchable servers, a Redis that can be killed or stalled, a child-process
// gateway, and the audit ledger that proves exactly one vendor_request record per request sent.

import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { AuditSink, UpstreamHandler } from '../helpers/harness.js';
import { TEST_ENV } from '../helpers/harness.js';
import { freePort, freePorts } from '../helpers/ports.js';
import { request, type SimpleResponse } from '../helpers/http.js';
import type { RequestAuditRecord } from '../../src/observability/audit.js';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** allowed for every Dutch persona (catalogue) */
export const TABLE = `/api/v1/tables/${DEMO_TABLE_ID}`;
/** lineage: STG_GEHEIM only */
export const LINEAGE = `/api/v1/lineage/table/${DEMO_TABLE_ID}`;
export const USAGE = `/api/v1/usage/table/${DEMO_TABLE_ID}`;
/** a data endpoint: never allowed */
export const SAMPLE_DATA = `/api/v1/tables/${DEMO_TABLE_ID}/sampleData`;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Call fn until done(value) or the deadline; throws with the last value. Every poll loop is bounded. */
export async function pollUntil<T>(fn: () => Promise<T> | T, done: (v: T) => boolean, timeoutMs: number, intervalMs = 25): Promise<{ value: T; elapsed: number }> {
  const start = performance.now();
  for (;;) {
    let value: T;
    try {
      value = await fn();
    } catch (err) {
      value = err as T;
    }
    const elapsed = performance.now() - start;
    if (done(value)) return { value, elapsed };
    if (elapsed > timeoutMs) {
      const shown = value instanceof Error ? value.message : JSON.stringify(value);
      throw new Error(`condition not met within ${timeoutMs} ms; last value: ${shown?.slice(0, 500)}`);
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A listener on a fixed loopback port that can go down (nothing listening, open connections cut) and come back,
// answer as HTTP through a replaceable handler, or take the raw socket (garbage bytes, resets).
// ---------------------------------------------------------------------------------------------------------------

export type RawHandler = (socket: net.Socket) => void;

export class Front {
  /** HTTP requests seen (raw connections are not counted) */
  requests = 0;
  connections = 0;
  handler: UpstreamHandler = (_req, res) => void res.writeHead(503).end();
  raw: RawHandler | null = null;
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private readonly http = http.createServer((req, res) => {
    this.requests++;
    this.handler(req, res);
  });

  private constructor(readonly port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get isUp(): boolean {
    return this.server !== null;
  }

  /** connections open right now */
  get open(): number {
    return this.sockets.size;
  }

  /** Bind a free port and listen on it (or only reserve it with `{ up: false }`). */
  static async start(opts: { up?: boolean } = {}): Promise<Front> {
    const front = new Front(await freePort());
    if (opts.up !== false) await front.up();
    return front;
  }

  async up(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      if (this.raw) this.raw(socket);
      else this.http.emit('connection', socket);
    });
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(this.port, '127.0.0.1', () => ok());
    });
    this.server = server;
  }

  /** Cut every open connection but keep listening (a new behaviour then applies to every request). */
  cut(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** Stop listening and cut every open connection: from now on a connect is refused. */
  async down(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  async close(): Promise<void> {
    await this.down();
    this.http.close();
  }
}

/** An HTTP handler that relays to another server (the harness's recording upstream or JWKS endpoint). */
export function relayTo(target: string): UpstreamHandler {
  const t = new URL(target);
  return (req, res) => {
    const p = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers, agent: false }, (pr) => {
      res.writeHead(pr.statusCode ?? 502, pr.headers);
      pr.pipe(res);
    });
    p.on('error', () => res.destroy());
    req.pipe(p);
  };
}

export { freePort, freePorts };

/**
 * Write `total` bytes of a JSON-looking body in 64 KiB chunks, honouring back-pressure, until done or the peer goes
 * away (so the test's own memory stays bounded too). `total = Infinity` streams until the connection is cut.
 * Resolves with the bytes written and whether the peer cut the connection first.
 */
export function streamBody(res: http.ServerResponse, total: number): Promise<{ written: number; cut: boolean }> {
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  chunk.write('[');
  let written = 0;
  return new Promise((done) => {
    let finished = false;
    const finish = (cut: boolean) => {
      if (finished) return;
      finished = true;
      done({ written, cut });
    };
    res.on('close', () => finish(!res.writableFinished));
    const pump = () => {
      while (!res.destroyed && written < total) {
        const n = Math.min(chunk.length, total - written);
        written += n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      if (!res.destroyed) res.end(() => finish(false));
    };
    pump();
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The audit ledger: every vendor request a test sends, and the proof that each left exactly one record.
// ---------------------------------------------------------------------------------------------------------------

export interface Outcome {
  status: number;
  /** problem+json code, or null for a 2xx/304 */
  code: string | null;
  /** performance.now() when the request was sent and when its answer was complete */
  startedAt: number;
  endedAt: number;
  ms: number;
  body: string;
}

export function codeOf(r: SimpleResponse): string | null {
  if (r.status < 300 || r.status === 304) return null;
  try {
    return (JSON.parse(r.body) as { code?: string }).code ?? `no-code:${r.status}`;
  } catch {
    return `not-json:${r.status}`;
  }
}

/** vendor_request records of an audit file (complete lines only) */
export function fileRecords(path: string): RequestAuditRecord[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.endsWith('}'))
    .map((l) => JSON.parse(l) as RequestAuditRecord)
    .filter((r) => (r.event as { action?: string }).action === 'vendor_request');
}

export class Ledger {
  readonly sent: Outcome[] = [];
  private readonly base: number;
  private readonly source: () => RequestAuditRecord[];

  /** `audit`: the harness's in-memory sink, or a function that reads the records (an audit file) */
  constructor(
    audit: AuditSink | (() => RequestAuditRecord[]),
    private readonly vendorUrl: string,
  ) {
    this.source = typeof audit === 'function' ? audit : () => audit.requestRecords();
    this.base = this.source().length;
  }

  /** One vendor GET; a transport error (no HTTP answer at all) fails the test: the gateway must always answer. */
  async get(path: string, token?: string, opts: { timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<Outcome> {
    const startedAt = performance.now();
    const res = await request(this.vendorUrl, path, {
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(opts.headers ?? {}) },
      timeoutMs: opts.timeoutMs ?? 15_000,
    });
    const endedAt = performance.now();
    const o: Outcome = { status: res.status, code: codeOf(res), startedAt, endedAt, ms: endedAt - startedAt, body: res.body };
    this.sent.push(o);
    return o;
  }

  /** Count a request sent some other way (raw socket) with the status it must be recorded with. */
  expect(status: number, code: string | null): void {
    const now = performance.now();
    this.sent.push({ status, code, startedAt: now, endedAt: now, ms: 0, body: '' });
  }

  records(): RequestAuditRecord[] {
    return this.source().slice(this.base);
  }

  /**
   * Exactly one vendor_request record per request sent: the counts match once the trail settles, and the multiset
   * of (status, first reason) pairs in the records equals the one the clients saw. Allowed records are 200s only.
   */
  async expectOneRecordEach(settleMs = 300): Promise<RequestAuditRecord[]> {
    await pollUntil(() => this.records().length, (n) => n >= this.sent.length, 5_000).catch(() => undefined);
    await sleep(settleMs); // a second record for the same request would arrive here
    const recs = this.records();
    const seen = tally(recs.map((r) => `${r.http.response.status_code} ${r.metagate.reasons[0] ?? 'allow'}`));
    const want = tally(this.sent.map((o) => `${o.status} ${o.code ?? 'allow'}`));
    expect({ records: recs.length, byStatusAndReason: seen }).toEqual({ records: this.sent.length, byStatusAndReason: want });
    for (const r of recs) if (r.metagate.decision === 'allow') expect(r.http.response.status_code).toBe(200);
    return recs;
  }
}

export function tally(xs: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of [...xs].sort()) out[x] = (out[x] ?? 0) + 1;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Admin-side probes
// ---------------------------------------------------------------------------------------------------------------

export interface Readiness {
  status: number;
  ready: boolean;
  checks: Record<string, boolean>;
}

export async function readiness(adminUrl: string): Promise<Readiness> {
  const r = await request(adminUrl, '/readyz');
  const body = r.json<{ checks: Record<string, boolean> }>();
  return { status: r.status, ready: r.status === 200, checks: body.checks };
}

/** The value of one series from /metrics (labels must match exactly the ones given; others are ignored). */
export async function metric(adminUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await request(adminUrl, '/metrics')).body;
  return metricFrom(text, name, labels);
}

export function metricFrom(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const pair of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      sum += Number(m[4]);
      found = true;
    }
  }
  if (!found) throw new Error(`metric ${name}${JSON.stringify(labels)} not exposed`);
  return sum;
}

// ---------------------------------------------------------------------------------------------------------------
// A private redis-server that can be killed, restarted on the same port, and stalled (DEBUG SLEEP needs
// enable-debug-command, which test/helpers/redis-server.ts does not set).
// ---------------------------------------------------------------------------------------------------------------

const REDIS_BIN = process.env['REDIS_SERVER_BIN'] ?? 'redis-server';
const REDIS_CLI = process.env['REDIS_CLI_BIN'] ?? 'redis-cli';
const liveChildren = new Set<ChildProcess>();
let exitHook = false;

function track(child: ChildProcess): void {
  if (!exitHook) {
    exitHook = true;
    // a child outlives a parent that exits without killing it
    process.once('exit', () => {
      for (const c of liveChildren) c.kill('SIGKILL');
    });
  }
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

export class RedisProcess {
  private child: ChildProcess | null = null;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Start on a free port, or only reserve the port (`{ up: false }`) for a Redis that is down at start. */
  static async start(opts: { up?: boolean } = {}): Promise<RedisProcess> {
    const r = new RedisProcess(await freePort());
    if (opts.up !== false) await r.restart();
    return r;
  }

  /** (Re)start on the same port and wait until it answers PING. */
  async restart(): Promise<void> {
    if (this.child) await this.stop();
    const child = spawn(
      REDIS_BIN,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--enable-debug-command', 'local'],
      { stdio: ['ignore', 'ignore', 'pipe'], cwd: tmpdir() },
    );
    track(child);
    let err = '';
    child.stderr?.on('data', (c: Buffer) => void (err.length < 2000 && (err += c.toString())));
    this.child = child;
    try {
      await pollUntil(() => this.ping(), (ok) => ok, 5_000, 20);
    } catch {
      child.kill('SIGKILL');
      this.child = null;
      throw new Error(`redis-server did not start on ${this.port}: ${err}`);
    }
  }

  /** SIGKILL: Redis vanishes without a goodbye. */
  kill(): Promise<void> {
    return this.terminate('SIGKILL');
  }

  stop(): Promise<void> {
    return this.terminate('SIGTERM');
  }

  /** Block the server for `seconds` (DEBUG SLEEP); resolves once the command was sent, not when it ends. */
  async stall(seconds: number): Promise<{ done: Promise<void> }> {
    const cli = spawn(REDIS_CLI, ['-p', String(this.port), 'DEBUG', 'SLEEP', String(seconds)], { stdio: 'ignore' });
    track(cli);
    const done = new Promise<void>((r) => cli.once('exit', () => r()));
    // the command is in Redis once the server stops answering PING
    await pollUntil(() => this.ping(200), (ok) => !ok, 2_000, 10);
    return { done };
  }

  private async terminate(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  }

  ping(timeoutMs = 500): Promise<boolean> {
    return new Promise((done) => {
      const s = net.connect({ host: '127.0.0.1', port: this.port });
      let buf = '';
      const end = (ok: boolean) => {
        s.destroy();
        done(ok);
      };
      s.setTimeout(timeoutMs, () => end(false));
      s.once('error', () => end(false));
      s.once('connect', () => s.write('PING\r\n'));
      s.on('data', (c: Buffer) => {
        buf += c.toString();
        if (buf.includes('\r\n')) end(buf.startsWith('+PONG'));
      });
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A gateway in its own process (`metagate serve`), for faults that could take the process down.
// ---------------------------------------------------------------------------------------------------------------

export interface ChildGateway {
  vendorUrl: string;
  adminUrl: string;
  pid: number;
  /** resident set size now, in MiB (from /proc) */
  rssMb(): number;
  /** null while running */
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | null;
  stderr(): string;
  stop(): Promise<void>;
}

/** `uid`: run as this user (the tests run as root, for whom no file permission ever fails) */
export async function spawnGateway(config: Record<string, any>, opts: { nodeArgs?: string[]; uid?: number } = {}): Promise<ChildGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'metagate-child-'));
  if (opts.uid !== undefined) chownSync(dir, opts.uid, opts.uid);
  const [vendorPort, adminPort] = (await freePorts(2)) as [number, number];
  const cfg = structuredClone(config);
  cfg.vendor = { ...(cfg.vendor ?? {}), host: '127.0.0.1', port: vendorPort };
  cfg.admin = { ...(cfg.admin ?? {}), host: '127.0.0.1', port: adminPort };
  const file = join(dir, 'metagate.yaml');
  writeFileSync(file, JSON.stringify(cfg, null, 2)); // JSON is YAML
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', 'src/cli.ts', 'serve', '--config', file], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...TEST_ENV },
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  track(child);
  let err = '';
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
    if (err.length > 20_000) err = err.slice(-10_000);
  });
  let status: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = new Promise<void>((r) => {
    child.once('exit', (code, signal) => {
      status = { code, signal };
      r();
    });
    // a child that cannot be spawned at all (e.g. the node binary is not executable for the uid) never exits
    child.once('error', (e) => {
      err += `spawn failed: ${e.message}`;
      status = { code: null, signal: null };
      r();
    });
  });
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const gw: ChildGateway = {
    vendorUrl: `http://127.0.0.1:${vendorPort}`,
    adminUrl,
    pid: child.pid ?? -1,
    rssMb: () => {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        return m ? Number(m[1]) / 1024 : NaN;
      } catch {
        return NaN;
      }
    },
    exitStatus: () => status,
    stderr: () => err,
    stop: async () => {
      if (status === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    const { value } = await pollUntil(
      async () => (status !== null ? -1 : await request(adminUrl, '/healthz', { timeoutMs: 1000 }).then((r) => r.status, () => 0)),
      (s) => s === 200 || s === -1,
      30_000,
      100,
    );
    if (value === -1) throw new Error(`gateway exited during start (${JSON.stringify(status)}): ${err}`);
  } catch (e) {
    await gw.stop();
    throw e;
  }
  return gw;
}
