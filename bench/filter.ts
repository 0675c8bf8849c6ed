// Filter micro-benchmark: ns per KB of JSON.parse + filter + JSON.stringify against a parse + stringify baseline,
// and of the deny filter's raw-bytes scan (src/filters/scan.ts) on the same bodies with their data fields already
// removed (what the gateway sees when the platform sends metadata only: the bytes are passed as they are).
//
//   npx tsx bench/filter.ts                     # the gateway's filter engine
//   npx tsx bench/filter.ts --impl ./other.ts   # another module exporting compileFilter (before/after comparisons)
//   npx tsx bench/filter.ts --quick             # fewer rounds
//
// Bodies are realistic OpenMetadata responses built from the golden fixtures: a trimmed table (~1 KB), a table
// (~10 KB) and table lists of repeated tables (~100 KB, ~1 MB). Not a test: it prints a table and exits 0.

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { FilterConfig } from '../src/config/types.js';
import type { CompiledFilter } from '../src/filters/compile.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const implArg = args.indexOf('--impl');
const implPath = implArg >= 0 ? resolve(args[implArg + 1]!) : join(ROOT, 'src/filters/compile.ts');
const quick = args.includes('--quick');
const ROUNDS = quick ? 7 : 21;
const ROUND_TARGET_NS = (quick ? 25 : 60) * 1e6;
const MAX_DEPTH = 64;

type Compile = (name: string, cfg: FilterConfig) => { filter?: CompiledFilter; errors: string[] };
const { compileFilter } = (await import(pathToFileURL(implPath).href)) as { compileFilter: Compile };

interface ProfileYaml {
  filters: Record<string, FilterConfig>;
}
const om = parseYaml(readFileSync(join(ROOT, 'config/profiles/openmetadata.yaml'), 'utf8')) as ProfileYaml;
const table = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/openmetadata/table.json'), 'utf8')) as Record<string, unknown>;
const list = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/openmetadata/tables-list.json'), 'utf8')) as { paging: unknown };

function compile(name: string, cfg: FilterConfig): CompiledFilter {
  const { filter, errors } = compileFilter(name, cfg);
  if (!filter) throw new Error(`${name}: ${errors.join('; ')}`);
  return filter;
}

const denyFilter = compile('om-deny', om.filters['om-deny']!);
const strict = om.filters['om-table-strict']!;
const allowTable = compile('om-table-strict', strict);
// the same strict shape applied to every table of a list response
const allowList = compile('om-table-list-strict', { mode: 'allow', fields: [...strict.fields.map((f) => `data[].${f}`), 'paging.total', 'paging.after', 'paging.before'] });

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** A table trimmed to about `target` bytes: identity fields, then columns (with their profiles) until full. */
function smallTable(target: number): Record<string, unknown> {
  const t = clone(table);
  const cols = t['columns'] as unknown[];
  const out: Record<string, unknown> = {};
  for (const k of ['id', 'name', 'fullyQualifiedName', 'tableType', 'version', 'updatedAt']) out[k] = t[k];
  out['columns'] = [];
  for (const c of cols) {
    (out['columns'] as unknown[]).push(c);
    if (JSON.stringify(out).length >= target) break;
  }
  return out;
}

/** A table list of whole tables (fresh ids) until the body reaches `target` bytes. */
function tableList(target: number): Record<string, unknown> {
  const data: unknown[] = [];
  const out = { data, paging: clone(list.paging) };
  let size = JSON.stringify(out).length;
  let i = 0;
  while (size < target) {
    const t = clone(table);
    t['id'] = `c019434d-4146-4bc8-9c53-${String(i++).padStart(12, '0')}`;
    data.push(t);
    size += JSON.stringify(t).length + 1;
  }
  return out;
}

interface Case {
  label: string;
  text: string;
  allow: CompiledFilter;
  /** the same body with the deny filter's fields removed, as bytes */
  clean?: Buffer;
}
const cases: Case[] = [
  { label: '1 KB table', text: JSON.stringify(smallTable(1024)), allow: allowTable },
  { label: '10 KB table', text: JSON.stringify(table), allow: allowTable },
  { label: '100 KB list', text: JSON.stringify(tableList(100 * 1024)), allow: allowList },
  { label: '1 MB list', text: JSON.stringify(tableList(1024 * 1024)), allow: allowList },
];

let sink = 0;
const variants: Record<'baseline' | 'deny' | 'allow' | 'cleanBaseline' | 'scan', (c: Case) => void> = {
  cleanBaseline: (c) => {
    sink += JSON.stringify(JSON.parse(c.clean!.toString('utf8'))).length;
  },
  scan: (c) => {
    if (!denyFilter.unchanged(c.clean!, MAX_DEPTH)) throw new Error(`${c.label}: the scan did not pass the clean body`);
    sink += c.clean!.length;
  },
  baseline: (c) => {
    sink += JSON.stringify(JSON.parse(c.text)).length;
  },
  deny: (c) => {
    sink += JSON.stringify(denyFilter.apply(JSON.parse(c.text), new Map(), MAX_DEPTH)).length;
  },
  allow: (c) => {
    sink += JSON.stringify(c.allow.apply(JSON.parse(c.text), new Map(), MAX_DEPTH)).length;
  },
};

/** Iterations that make one call of `fn` last about ROUND_TARGET_NS (this is also the warm-up). */
function calibrate(fn: () => void): number {
  let n = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    const dt = Number(process.hrtime.bigint() - t0);
    if (dt > ROUND_TARGET_NS / 4) return Math.max(1, Math.round((n * ROUND_TARGET_NS) / dt));
    n *= 2;
  }
}

function timeIt(fn: () => void, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / n;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * The three variants run interleaved in every round, so a noisy neighbour slows all of them alike; the reported
 * ratio is the median of the per-round ratios, the ns/KB the median of the rounds.
 */
function measureCase(c: Case): { base: number; deny: number; allow: number; denyRatio: number; allowRatio: number; cleanBase: number; scan: number; scanRatio: number } {
  const withScan = c.clean !== undefined;
  const fns = [() => variants.baseline(c), () => variants.deny(c), () => variants.allow(c), ...(withScan ? [() => variants.cleanBaseline(c), () => variants.scan(c)] : [])];
  const ns = fns.map((f) => calibrate(f));
  const t: number[][] = fns.map(() => []);
  for (let r = 0; r < ROUNDS; r++) fns.forEach((f, i) => t[i]!.push(timeIt(f, ns[i]!)));
  const kb = Buffer.byteLength(c.text) / 1024;
  const cleanKb = withScan ? c.clean!.length / 1024 : 1;
  return {
    base: median(t[0]!) / kb,
    deny: median(t[1]!) / kb,
    allow: median(t[2]!) / kb,
    denyRatio: median(t[1]!.map((x, i) => x / t[0]![i]!)),
    allowRatio: median(t[2]!.map((x, i) => x / t[0]![i]!)),
    cleanBase: withScan ? median(t[3]!) / cleanKb : NaN,
    scan: withScan ? median(t[4]!) / cleanKb : NaN,
    scanRatio: withScan ? median(t[4]!.map((x, i) => x / t[3]![i]!)) : NaN,
  };
}

// sanity: every variant works on every body (and the filters remove something)
for (const c of cases) {
  const removed = new Map<string, number>();
  denyFilter.apply(JSON.parse(c.text), removed, MAX_DEPTH);
  if (removed.size === 0) throw new Error(`${c.label}: the deny filter removed nothing`);
  c.allow.apply(JSON.parse(c.text), new Map(), MAX_DEPTH);
  // another engine (--impl) may not have the scan
  if (typeof denyFilter.unchanged === 'function') c.clean = Buffer.from(JSON.stringify(denyFilter.apply(JSON.parse(c.text), new Map(), MAX_DEPTH)));
}

const fmt = (n: number, w: number, d = 0) => n.toFixed(d).padStart(w);
console.log(`filter engine: ${implPath.startsWith(ROOT) ? implPath.slice(ROOT.length + 1) : implPath}`);
console.log(`node ${process.version}, ${ROUNDS} interleaved rounds of ~${ROUND_TARGET_NS / 1e6} ms per variant; medians\n`);
console.log('body            bytes    baseline ns/KB   deny ns/KB  ratio   allow ns/KB  ratio  | clean bytes  baseline ns/KB  scan ns/KB  ratio  | heap MB');
console.log('--------------  -------  --------------  -----------  -----  ------------  -----  | -----------  --------------  ----------  -----  | -------');
for (const c of cases) {
  const { base, deny, allow, denyRatio, allowRatio, cleanBase, scan, scanRatio } = measureCase(c);
  const heap = process.memoryUsage().heapUsed / 1024 / 1024;
  console.log(
    `${c.label.padEnd(14)}  ${fmt(Buffer.byteLength(c.text), 7)}  ${fmt(base, 14)}  ${fmt(deny, 11)}  ${fmt(denyRatio, 5, 2)}  ${fmt(allow, 12)}  ${fmt(allowRatio, 5, 2)}  | ${fmt(c.clean?.length ?? NaN, 11)}  ${fmt(cleanBase, 14)}  ${fmt(scan, 10)}  ${fmt(scanRatio, 5, 2)}  | ${fmt(heap, 7, 1)}`,
  );
}
if (sink === 42) console.log('');
