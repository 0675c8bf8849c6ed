// `metagate admin …` as a network admin runs it: a child process against a live admin listener, exit codes and effect.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.js';
import { request } from '../helpers/http.js';
import { personas } from '../../src/demo/issuer.js';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import { runAdminCommand } from '../../src/admin/cli.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/cli.mjs', import.meta.url));
const CATALOGUE = `/api/v1/tables/${DEMO_TABLE_ID}`;
/** a child needs ~1.5 s on an idle machine, but well over 10 s when the whole suite runs on two loaded CPUs */
const CHILD_TIMEOUT_MS = 60_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a shell with only what the CLI reads set (no inherited METAGATE_* settings). */
function env(token: string | undefined): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('METAGATE_')) e[k] = v;
  if (token !== undefined) e.METAGATE_ADMIN_TOKEN = token;
  return e;
}

function run(file: string, args: string[], token: string | null = ADMIN_TOKEN): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: ROOT, env: env(token ?? undefined), timeout: CHILD_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

/** exactly the command a network admin types */
const viaNpx = (args: string[], token?: string) => run('npx', ['tsx', 'src/cli.ts', 'admin', '--url', h.adminUrl, ...args], token);
/** the same program through the local tsx binary, without npx's start-up cost */
const cli = (args: string[], token?: string) => run(process.execPath, [TSX, 'src/cli.ts', 'admin', '--url', h.adminUrl, ...args], token);

/**
 * The same command function in this process, for the cases that need no new process to be convincing (each child
 * costs seconds: src/cli.ts loads the whole gateway before it looks at its arguments).
 */
async function inProcess(args: string[], token: string | null = ADMIN_TOKEN, url: string = h.adminUrl): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { token: process.env.METAGATE_ADMIN_TOKEN, url: process.env.METAGATE_ADMIN_URL };
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => (out.push(String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => (err.push(String(c)), true));
  if (token === null) delete process.env.METAGATE_ADMIN_TOKEN;
  else process.env.METAGATE_ADMIN_TOKEN = token;
  delete process.env.METAGATE_ADMIN_URL;
  try {
    const code = await runAdminCommand(['--url', url, ...args]);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    o.mockRestore();
    e.mockRestore();
    for (const [k, v] of [['METAGATE_ADMIN_TOKEN', saved.token], ['METAGATE_ADMIN_URL', saved.url]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

// a failed test must not leave state behind for the next one
afterEach(async () => {
  const st = h.gateway.gateway.store;
  for (const r of await st.listRevocations(Date.now())) await st.unrevoke(r.kind, r.id);
  for (const x of await st.listSuspensions()) await st.resume(x.org);
  for (const w of await st.listWindows(Date.now())) await st.cancelWindow(w.id);
});

const store = () => h.gateway.gateway.store;
const adminRecords = () => h.audit.records().filter((r) => (r.event as { category: string }).category === 'configuration') as Array<{ event: { action: string; outcome: string }; user: { name: string } }>;
const vendor = async (claims: Record<string, unknown>) => {
  const res = await request(h.vendorUrl, CATALOGUE, { headers: { authorization: `Bearer ${await h.token(claims)}` } });
  return [res.status, res.status === 200 ? null : res.json<{ code: string }>().code] as const;
};
const geheim = (sub?: string) => ({ ...personas(Math.floor(Date.now() / 1000)).geheim!.claims, ...(sub ? { sub } : {}) });

describe('metagate admin (child processes running src/cli.ts)', () => {
  // Each child costs seconds (src/cli.ts loads the whole gateway before reading its arguments), so independent
  // commands run side by side: suspend ∥ revoke, then resume ∥ revocations.
  it('suspend --reason test (npx tsx src/cli.ts …) and revoke subject X --reason r; then resume and revocations', async () => {
    const sub = 'cli-revoked@vendor.example';
    const before = adminRecords().length;
    expect(await vendor(geheim(sub))).toEqual([200, null]);

    const [s, rv] = await Promise.all([viaNpx(['suspend', '--reason', 'test']), cli(['revoke', 'subject', sub, '--reason', 'r'])]);
    expect([s.code, s.stderr]).toEqual([0, '']);
    expect(JSON.parse(s.stdout)).toEqual({ suspended: { org: null } });
    expect([rv.code, rv.stderr]).toEqual([0, '']);
    expect(JSON.parse(rv.stdout)).toEqual({ revoked: { kind: 'subject', id: sub } });
    expect(await store().listSuspensions()).toEqual([expect.objectContaining({ reason: 'test', by: 'test-operator' })]);
    expect(await vendor(geheim())).toEqual([403, 'access_suspended']);
    expect(await vendor(geheim(sub))).toEqual([403, 'subject_revoked']);

    const [r, list] = await Promise.all([cli(['resume']), cli(['revocations'])]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ resumed: { org: null } });
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual({ revocations: [expect.objectContaining({ kind: 'subject', id: sub, reason: 'r', by: 'test-operator' })] });
    expect(await store().listSuspensions()).toEqual([]);
    expect(await vendor(geheim())).toEqual([200, null]);
    expect(await vendor(geheim(sub))).toEqual([403, 'subject_revoked']); // only X, and still X

    expect(adminRecords().slice(before).map((x) => `${x.event.action}:${x.event.outcome}:${x.user.name}`).sort()).toEqual([
      'admin_resume:success:test-operator',
      'admin_revoke:success:test-operator',
      'admin_suspend:success:test-operator',
    ]);
  }, 2 * CHILD_TIMEOUT_MS + 10_000);
});

describe('metagate admin (the same command function, in process)', () => {
  it('unrevoke, revoke with --ttl, resume with nothing to resume', async () => {
    expect((await inProcess(['revoke', 'token', 'jti-cli-1', '--reason', 'leaked', '--ttl', '60'])).code).toBe(0);
    const rev = (await store().listRevocations(Date.now())).find((x) => x.id === 'jti-cli-1')!;
    expect(rev.expiresAt! - rev.createdAt).toBe(60_000);
    expect((await inProcess(['unrevoke', 'token', 'jti-cli-1'])).code).toBe(0);
    expect(await store().listRevocations(Date.now())).toEqual([]);
    const again = await inProcess(['unrevoke', 'token', 'jti-cli-1']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 404 });
    const resume = await inProcess(['resume']);
    expect(resume.code).toBe(1);
    expect(JSON.parse(resume.stdout)).toMatchObject({ status: 404, detail: 'no such suspension' });
  });

  it('window, windows, cancel-window; org suspensions; rate; explain', async () => {
    const start = new Date(Date.now() - 1_000).toISOString();
    const end = new Date(Date.now() + 60_000).toISOString();
    const w = await inProcess(['window', '--label', 'Exercise Northern Coast', '--reason', 'exercise', '--start', start, '--end', end]);
    expect(w.code).toBe(0);
    const id = (JSON.parse(w.stdout) as { window: { id: string } }).window.id;
    expect(await vendor(geheim())).toEqual([403, 'access_suspended']);
    expect(JSON.parse((await inProcess(['windows'])).stdout)).toEqual({ windows: [expect.objectContaining({ id, label: 'Exercise Northern Coast' })] });
    expect((await inProcess(['cancel-window', id])).code).toBe(0);
    expect(await vendor(geheim())).toEqual([200, null]);

    expect((await inProcess(['suspend', '--reason', 'contract paused', '--org', 'vendor'])).code).toBe(0);
    expect(JSON.parse((await inProcess(['suspensions'])).stdout)).toEqual({ suspensions: [expect.objectContaining({ org: 'vendor' })] });
    expect(await vendor(geheim())).toEqual([403, 'access_suspended']);
    expect(await vendor({ ...geheim('other@partner.example'), org: 'partner' })).toEqual([200, null]);
    expect((await inProcess(['resume', '--org', 'vendor'])).code).toBe(0);

    const rate = await inProcess(['rate', geheim().sub as string]);
    expect(rate.code).toBe(0);
    expect(JSON.parse(rate.stdout)).toMatchObject({ subject: { allowed: true, limit: 100000 } });

    const ex = await inProcess(['explain', '--target', `/api/v1/lineage/table/${DEMO_TABLE_ID}`, '--token', await h.token('confidentieel')]);
    expect(ex.code).toBe(0);
    expect(JSON.parse(ex.stdout)).toMatchObject({ decision: 'deny', status: 403, reasons: ['clearance_insufficient'] });
  });

  it('failures exit 1: the API refuses the body, a vendor token or a wrong admin token, or is unreachable', async () => {
    const badBody = await inProcess(['revoke', 'subject', 'x', '--reason', 'two\nlines']);
    expect([badBody.code, JSON.parse(badBody.stdout).status]).toEqual([1, 400]);
    const vendorToken = await inProcess(['suspend', '--reason', 'vendor token'], await h.token('geheim'));
    expect([vendorToken.code, JSON.parse(vendorToken.stdout).status]).toEqual([1, 401]);
    const wrong = await inProcess(['suspend', '--reason', 'wrong token'], `${ADMIN_TOKEN.slice(0, -1)}X`);
    expect([wrong.code, JSON.parse(wrong.stdout).status]).toEqual([1, 401]);
    const unreachable = await inProcess(['status'], ADMIN_TOKEN, 'http://127.0.0.1:9');
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^cannot reach the admin API at http:\/\/127\.0\.0\.1:9/);
    expect(await store().listSuspensions()).toEqual([]);
    expect(await store().listRevocations(Date.now())).toEqual([]);
  });

  it('usage errors exit 2 without calling the API', async () => {
    const before = adminRecords().length;
    const noToken = await inProcess(['suspend', '--reason', 'x'], null);
    expect([noToken.code, noToken.stderr]).toEqual([2, 'set METAGATE_ADMIN_TOKEN to an admin token\n']);
    const noReason = await inProcess(['revoke', 'subject', 'x']);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/^missing --reason/);
    const badClaims = await inProcess(['explain', '--target', '/', '--claims', '{not json']);
    expect(badClaims.code).toBe(2);
    const unknown = await inProcess(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^unknown admin command "frobnicate"/);
    // forgiving parsing would turn these into a different action than the operator meant (regression guard)
    for (const args of [
      ['resume', '--org'], // value forgotten: must not lift the global kill switch
      ['resume', 'vendor'], // --org forgotten: idem
      ['suspend', '--reason', 'x', '--org'],
      ['revoke', 'subject', '--reason', 'r'], // ID forgotten: must not revoke a subject called "--reason"
      ['revoke', 'user', 'x', '--reason', 'r'],
      ['revoke', 'subject', 'x', '--reason', 'r', '--ttl', '1h'],
      ['suspend', '--reason', 'x', '--reasn', 'y'],
      ['suspend', '--reason', 'x', '--reason', 'y'],
      ['unrevoke', 'subject'],
      ['explain', '--target', '/', '--token', 't', '--claims', '{}'],
      ['status', '--url'],
    ]) {
      const r = await inProcess(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/\n  metagate admin \[--url URL\] COMMAND/);
    }
    const noCommand = await inProcess([]);
    expect(noCommand.code).toBe(2);
    expect(noCommand.stdout).toMatch(/metagate admin \[--url URL\] COMMAND/);
    expect(adminRecords().length).toBe(before);
    expect(await store().listSuspensions()).toEqual([]);
    expect(await store().listRevocations(Date.now())).toEqual([]);
  });
});
