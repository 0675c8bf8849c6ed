// `npx tsx bench/profile.ts [seconds]`: run metagate under --cpu-prof with the benchmark load and print where the CPU
// time goes (self time by function, inclusive time by package/file). Used to decide what to optimise.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDevIssuer, personas } from '../src/demo/issuer.js';

const SECONDS = Number(process.argv[2] ?? 10);
const dir = mkdtempSync(join(tmpdir(), 'metagate-profile-'));
const kids: ChildProcess[] = [];
process.on('exit', () => kids.forEach((k) => k.exitCode === null && k.kill('SIGKILL')));

const TICK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU ticks (user + system) of every thread of a process, by thread id. */
function threadTicks(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), Number(fields[11]) + Number(fields[12]));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

function start(args: string[]): Promise<{ proc: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    kids.push(proc);
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.on('exit', (c) => reject(new Error(`exited ${c}`)));
  });
}

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

function summarize(file: string): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const time = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const d = p.timeDeltas[i] ?? 0;
    time.set(id, (time.get(id) ?? 0) + d);
    total += d;
  });
  const where = (u: string) => (u.includes('node_modules/') ? u.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, '$1') : u.includes('/src/') ? u.replace(/.*\/(src\/.*)/, '$1') : u || '(native)');
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const inclFn = new Map<string, number>();
  for (const [id, t] of time) {
    const seenFn = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const c = byId.get(cur)!.callFrame;
      const k = `${c.functionName || '(anonymous)'}  ${where(c.url)}:${c.lineNumber + 1}`;
      if (!seenFn.has(k)) {
        seenFn.add(k);
        inclFn.set(k, (inclFn.get(k) ?? 0) + t);
      }
    }
    const cf = byId.get(id)!.callFrame;
    const key = `${cf.functionName || '(anonymous)'}  ${where(cf.url)}:${cf.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + t);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const w = where(byId.get(cur)!.callFrame.url);
      if (!seen.has(w)) {
        seen.add(w);
        incl.set(w, (incl.get(w) ?? 0) + t);
      }
    }
  }
  const pct = (t: number) => `${((t / total) * 100).toFixed(1).padStart(5)}%`;
  console.log('\nself time, top 30:');
  for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(pct(t), k);
  const selfFile = new Map<string, number>();
  for (const [id, t] of time) {
    const w = where(byId.get(id)!.callFrame.url);
    selfFile.set(w, (selfFile.get(w) ?? 0) + t);
  }
  console.log('\nself time by package / source file, top 40:');
  for (const [k, t] of [...selfFile].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(pct(t), k);
  console.log('\ninclusive time by function, top 60:');
  for (const [k, t] of [...inclFn].sort((a, b) => b[1] - a[1]).slice(0, 60)) console.log(pct(t), k);
  console.log('\ninclusive time by package / source file, top 30:');
  for (const [k, t] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(pct(t), k);
}

const issuer = await createDevIssuer({ issuer: 'https://idp.bench.invalid', audience: 'metagate-bench', kid: 'bench' });
writeFileSync(join(dir, 'jwks.json'), JSON.stringify(issuer.jwks));
const token = await issuer.mint(personas(Math.floor(Date.now() / 1000)).geheim!.claims, { expiresInSec: 3600 });
// profile what ships: the tsc build run by plain node (tsx's transform adds helpers that show up in the profile)
const built = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { encoding: 'utf8' });
if (built.status !== 0) throw new Error(`npm run build failed:\n${built.stdout}${built.stderr}`);
const up = await start(['dist/bench/servers/upstream.js']);
// the benchmark's metagate (bench/run.ts) with the memory store: the same links to remove (hiddenOrigins), the same policy
writeFileSync(
  join(dir, 'mg.yaml'),
  `vendor: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0 }
upstream: { url: "http://127.0.0.1:${up.port}", connections: 128, hiddenOrigins: ["http://openmetadata.internal:8585"] }
auth: { issuer: https://idp.bench.invalid, audience: metagate-bench, algorithms: [ES256], jwks: { file: "${join(dir, 'jwks.json')}" } }
policy:
  categories: { catalogue: { minClearance: STG_CONFIDENTIEEL }, lineage: { minClearance: STG_GEHEIM }, usage: { minClearance: STG_CONFIDENTIEEL } }
routes: { profiles: [openmetadata] }
state: { backend: memory, rateLimit: { perSubject: 100000000, windowSec: 60 } }
audit: { destination: "${join(dir, 'audit.jsonl')}" }
log: { level: warn }
`,
);
const mg = await start(['--cpu-prof', `--cpu-prof-dir=${dir}`, 'dist/bench/servers/metagate.js', join(dir, 'mg.yaml')]);
const url = `http://127.0.0.1:${mg.port}/api/v1/tables/c019434d-4146-4bc8-9c53-d0c56cdd7ac9`;
spawnSync('wrk', ['-t1', '-c50', '-d2s', '-H', `Authorization: Bearer ${token}`, url]); // warm-up (in the profile too, but short)
const before = threadTicks(mg.proc.pid!);
const r = spawnSync('wrk', ['-t1', '-c50', `-d${SECONDS}s`, '-H', `Authorization: Bearer ${token}`, url], { encoding: 'utf8' });
const after = threadTicks(mg.proc.pid!);
console.log(r.stdout.split('\n').filter((l) => /Requests\/sec|Non-2xx|Latency /.test(l)).join('\n'));
// the profile sees the main thread only: say how the process's CPU splits between it and the helper threads (V8's
// garbage collector helpers, libuv's pool for the audit file writes)
const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? NaN);
const us = (ticks: number) => ((ticks / TICK) * 1e6) / requests;
let helpers = 0;
for (const [tid, t] of after) if (tid !== mg.proc.pid) helpers += t - (before.get(tid) ?? 0);
const main = (after.get(mg.proc.pid!) ?? 0) - (before.get(mg.proc.pid!) ?? 0);
console.log(`process CPU per request: ${us(main + helpers).toFixed(1)} µs — main thread ${us(main).toFixed(1)} µs, helper threads ${us(helpers).toFixed(1)} µs`);
await new Promise<void>((resolve) => {
  mg.proc.once('exit', () => resolve());
  mg.proc.kill('SIGTERM');
});
const prof = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f)).sort((a, b) => statSync(b).size - statSync(a).size)[0];
if (!prof) throw new Error('no profile written');
summarize(prof);
process.exit(0);
