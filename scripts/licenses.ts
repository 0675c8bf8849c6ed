// Licence gate for the production dependency tree: exit 1 when any package's licence is not on the OSI-approved
// allowlist below (SPDX expressions with OR / AND / WITH and parentheses are evaluated), else print a summary.
//
//   node --import tsx scripts/licenses.ts [--root DIR] [--json]

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { productionTree, type ProdPackage } from './prod-deps.js';

/** OSI-approved licences accepted without review. Anything else (or nothing declared) needs a decision first. */
export const ALLOWED_LICENSES: ReadonlySet<string> = new Set([
  '0BSD',
  'Apache-2.0',
  'Artistic-2.0',
  'BlueOak-1.0.0',
  'BSD-2-Clause',
  'BSD-3-Clause',
  'EUPL-1.2',
  'ISC',
  'MIT',
  'MIT-0',
  'MPL-2.0',
  'PostgreSQL',
  'Python-2.0',
  'Unlicense',
  'UPL-1.0',
  'Zlib',
]);

/** Reviewed one-off decisions: "name@version" → why it is acceptable. Keep empty unless a decision is recorded. */
export const REVIEWED_EXCEPTIONS: ReadonlyMap<string, string> = new Map();

type Node = { id: string } | { op: 'AND' | 'OR'; left: Node; right: Node };

/** Parse an SPDX licence expression; throws on syntax it does not understand (which then fails the check). */
export function parseSpdx(expression: string): Node {
  const tokens = expression.replace(/[()]/g, ' $& ').trim().split(/\s+/).filter(Boolean);
  let i = 0;
  const peek = () => tokens[i];
  const primary = (): Node => {
    const t = tokens[i++];
    if (t === undefined) throw new Error(`incomplete licence expression "${expression}"`);
    if (t === '(') {
      const inner = orExpr();
      if (tokens[i++] !== ')') throw new Error(`unbalanced parentheses in "${expression}"`);
      return inner;
    }
    if (!/^[A-Za-z0-9.+-]+$/.test(t) || t === 'AND' || t === 'OR' || t === 'WITH') throw new Error(`unexpected "${t}" in licence expression "${expression}"`);
    // an exception (e.g. "Apache-2.0 WITH LLVM-exception") only adds permissions: judge the licence itself
    if (peek() === 'WITH') {
      i++;
      const exception = tokens[i++];
      if (!exception || !/^[A-Za-z0-9.+-]+$/.test(exception)) throw new Error(`missing exception after WITH in "${expression}"`);
    }
    return { id: t.replace(/\+$/, '') };
  };
  const andExpr = (): Node => {
    let left = primary();
    while (peek() === 'AND' || peek() === 'and') {
      i++;
      left = { op: 'AND', left, right: primary() };
    }
    return left;
  };
  const orExpr = (): Node => {
    let left = andExpr();
    while (peek() === 'OR' || peek() === 'or') {
      i++;
      left = { op: 'OR', left, right: andExpr() };
    }
    return left;
  };
  const tree = orExpr();
  if (i !== tokens.length) throw new Error(`unexpected "${tokens[i]}" in licence expression "${expression}"`);
  return tree;
}

/** Whether a declared licence expression is acceptable: OR needs one side allowed, AND needs both. */
export function licenseAllowed(expression: string | undefined, allowed: ReadonlySet<string> = ALLOWED_LICENSES): boolean {
  if (!expression) return false;
  let tree: Node;
  try {
    tree = parseSpdx(expression);
  } catch {
    return false;
  }
  const ok = (n: Node): boolean => ('id' in n ? allowed.has(n.id) : n.op === 'OR' ? ok(n.left) || ok(n.right) : ok(n.left) && ok(n.right));
  return ok(tree);
}

export interface LicenseReport {
  ok: boolean;
  total: number;
  byLicense: Record<string, number>;
  refused: Array<{ package: string; license: string; path?: string }>;
}

export function checkPackages(packages: readonly ProdPackage[], allowed: ReadonlySet<string> = ALLOWED_LICENSES): LicenseReport {
  const byLicense: Record<string, number> = {};
  const refused: LicenseReport['refused'] = [];
  for (const p of packages) {
    const lic = p.license ?? '(none declared)';
    byLicense[lic] = (byLicense[lic] ?? 0) + 1;
    const key = `${p.name}@${p.version}`;
    if (!licenseAllowed(p.license, allowed) && !REVIEWED_EXCEPTIONS.has(key)) refused.push({ package: key, license: lic, ...(p.path ? { path: p.path } : {}) });
  }
  return { ok: refused.length === 0, total: packages.length, byLicense: Object.fromEntries(Object.entries(byLicense).sort(([a], [b]) => a.localeCompare(b))), refused };
}

function main(argv: string[]): number {
  const rootAt = argv.indexOf('--root');
  const root = resolve(rootAt !== -1 && argv[rootAt + 1] ? argv[rootAt + 1]! : process.cwd());
  const tree = productionTree(root);
  const report = checkPackages(tree.packages);
  if (argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    process.stdout.write(`licence check: ${report.total} production packages of ${tree.root.name}@${tree.root.version}\n`);
    for (const [lic, n] of Object.entries(report.byLicense)) process.stdout.write(`  ${String(n).padStart(4)}  ${lic}\n`);
    if (report.ok) process.stdout.write('all licences are on the allowlist\n');
    else {
      process.stderr.write(`refused: ${report.refused.length} package(s) with a licence outside the allowlist (${[...ALLOWED_LICENSES].join(', ')}):\n`);
      for (const r of report.refused) process.stderr.write(`  - ${r.package}: ${r.license}\n`);
      process.stderr.write('record a reviewed decision in REVIEWED_EXCEPTIONS (scripts/licenses.ts) or replace the package\n');
    }
  }
  return report.ok ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
