// The production dependency tree as `npm ci --omit=dev` installs it: every package once, with its licence and integrity.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export interface ProdPackage {
  name: string;
  version: string;
  /** SPDX expression as declared (legacy `licenses` arrays are joined with OR); undefined when none is declared */
  license: string | undefined;
  /** npm integrity string (sha512-…) when the lockfile or npm knows it */
  integrity: string | undefined;
  path: string | undefined;
  /** name@version of the direct dependencies of this package */
  dependsOn: string[];
}

export interface ProdTree {
  root: { name: string; version: string; license: string | undefined; dependsOn: string[] };
  packages: ProdPackage[];
}

interface NpmNode {
  name?: string;
  version?: string;
  license?: unknown;
  licenses?: unknown;
  integrity?: string;
  path?: string;
  missing?: boolean;
  dependencies?: Record<string, NpmNode>;
}

/** Normalise the many shapes of package.json licence fields into one SPDX-ish expression. */
export function declaredLicense(pkg: { license?: unknown; licenses?: unknown }): string | undefined {
  const one = (v: unknown): string | undefined => {
    if (typeof v === 'string' && v.trim()) return v.trim();
    if (v && typeof v === 'object' && typeof (v as { type?: unknown }).type === 'string') return (v as { type: string }).type.trim();
    return undefined;
  };
  const direct = one(pkg.license);
  if (direct) return direct;
  if (Array.isArray(pkg.licenses)) {
    const all = pkg.licenses.map(one).filter((x): x is string => !!x);
    if (all.length === 1) return all[0];
    if (all.length > 1) return `(${all.join(' OR ')})`;
  }
  return one(pkg.licenses);
}

function readManifest(path: string | undefined): { license?: unknown; licenses?: unknown } {
  if (!path) return {};
  const file = join(path, 'package.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { license?: unknown; licenses?: unknown }) : {};
}

/** Run `npm ls --omit=dev --all --json --long` in `root` and flatten the tree. */
export function productionTree(root: string): ProdTree {
  let out: string;
  try {
    out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--json', '--long'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // npm ls exits 1 on extraneous/invalid packages but still prints the tree; a missing one is a real problem
    const e = err as { stdout?: string };
    if (!e.stdout) throw err;
    out = e.stdout;
  }
  const top = JSON.parse(out) as NpmNode & { problems?: string[] };
  // `npm ls --long` reports integrity only when it reads the actual tree's metadata; the lockfile always has it
  const lockFile = join(root, 'package-lock.json');
  const lock = existsSync(lockFile) ? (JSON.parse(readFileSync(lockFile, 'utf8')) as { packages?: Record<string, { integrity?: string }> }) : {};
  const lockIntegrity = (path: string | undefined): string | undefined => (path ? lock.packages?.[relative(root, path).split(sep).join('/')]?.integrity : undefined);
  const byKey = new Map<string, ProdPackage>();
  const walk = (deps: Record<string, NpmNode> | undefined): string[] => {
    const refs: string[] = [];
    for (const [name, node] of Object.entries(deps ?? {})) {
      if (node.missing) throw new Error(`production dependency ${name} is missing from node_modules; run npm ci`);
      if (!node.version) continue;
      const key = `${name}@${node.version}`;
      refs.push(key);
      let pkg = byKey.get(key);
      if (!pkg) {
        pkg = { name, version: node.version, license: undefined, integrity: node.integrity ?? lockIntegrity(node.path), path: node.path, dependsOn: [] };
        byKey.set(key, pkg);
      }
      pkg.license ??= declaredLicense(node) ?? declaredLicense(readManifest(node.path));
      pkg.integrity ??= node.integrity ?? lockIntegrity(node.path);
      pkg.path ??= node.path;
      // a deduped occurrence carries no children; the full one does
      const children = walk(node.dependencies);
      for (const c of children) if (!pkg.dependsOn.includes(c)) pkg.dependsOn.push(c);
    }
    return refs;
  };
  const direct = walk(top.dependencies);
  return {
    root: { name: top.name ?? 'unknown', version: top.version ?? '0.0.0', license: declaredLicense(top), dependsOn: direct },
    packages: [...byKey.values()].sort((a, b) => (a.name === b.name ? a.version.localeCompare(b.version) : a.name < b.name ? -1 : 1)),
  };
}
