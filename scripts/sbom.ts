// CycloneDX 1.5 JSON SBOM of the production dependency tree (what the container ships).
//
//   node --import tsx scripts/sbom.ts [OUT] [--root DIR]      (OUT defaults to dist/sbom.cdx.json)
//
// Reproducible: the timestamp comes from SOURCE_DATE_EPOCH when set, and the serial number from the content.

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSpdx } from './licenses.js';
import { productionTree, type ProdTree } from './prod-deps.js';

/** pkg:npm purl; a scope's "@" is percent-encoded as the purl spec requires. */
export function npmPurl(name: string, version: string): string {
  const [scope, bare] = name.startsWith('@') ? [name.slice(0, name.indexOf('/')), name.slice(name.indexOf('/') + 1)] : [undefined, name];
  return `pkg:npm/${scope ? `${encodeURIComponent(scope)}/` : ''}${encodeURIComponent(bare)}@${encodeURIComponent(version)}`;
}

function licenses(expression: string | undefined): Array<Record<string, unknown>> {
  if (!expression) return [];
  try {
    const tree = parseSpdx(expression);
    if ('id' in tree && !/\bWITH\b/.test(expression)) return [{ license: { id: tree.id } }];
  } catch {
    return [{ license: { name: expression } }];
  }
  return [{ expression: expression.replace(/^\((.*)\)$/, '$1') }];
}

function hashes(integrity: string | undefined): Array<{ alg: string; content: string }> {
  const out: Array<{ alg: string; content: string }> = [];
  for (const part of (integrity ?? '').split(/\s+/)) {
    const m = /^(sha512|sha384|sha256|sha1)-([A-Za-z0-9+/=]+)$/.exec(part);
    if (m) out.push({ alg: m[1] === 'sha1' ? 'SHA-1' : `SHA-${m[1]!.slice(3)}`, content: Buffer.from(m[2]!, 'base64').toString('hex') });
  }
  return out;
}

export function buildSbom(tree: ProdTree, now: Date = new Date()): Record<string, unknown> {
  const ref = (key: string) => {
    const at = key.lastIndexOf('@');
    return npmPurl(key.slice(0, at), key.slice(at + 1));
  };
  const rootRef = npmPurl(tree.root.name, tree.root.version);
  const components = tree.packages.map((p) => {
    const scoped = p.name.startsWith('@');
    return {
      type: 'library',
      'bom-ref': npmPurl(p.name, p.version),
      ...(scoped ? { group: p.name.slice(0, p.name.indexOf('/')), name: p.name.slice(p.name.indexOf('/') + 1) } : { name: p.name }),
      version: p.version,
      purl: npmPurl(p.name, p.version),
      licenses: licenses(p.license),
      ...(hashes(p.integrity).length ? { hashes: hashes(p.integrity) } : {}),
    };
  });
  const dependencies = [
    { ref: rootRef, dependsOn: tree.root.dependsOn.map(ref) },
    ...tree.packages.map((p) => ({ ref: npmPurl(p.name, p.version), dependsOn: p.dependsOn.map(ref) })),
  ];
  const body = { components, dependencies };
  const digest = createHash('sha256').update(JSON.stringify({ root: rootRef, ...body })).digest('hex');
  const serial = `urn:uuid:${digest.slice(0, 8)}-${digest.slice(8, 12)}-5${digest.slice(13, 16)}-${((parseInt(digest[16]!, 16) & 0x3) | 0x8).toString(16)}${digest.slice(17, 20)}-${digest.slice(20, 32)}`;
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: serial,
    version: 1,
    metadata: {
      timestamp: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      tools: { components: [{ type: 'application', name: 'metagate-sbom', version: tree.root.version }] },
      component: { type: 'application', 'bom-ref': rootRef, name: tree.root.name, version: tree.root.version, purl: rootRef, licenses: licenses(tree.root.license) },
      properties: [{ name: 'metagate:scope', value: 'production dependencies (npm ci --omit=dev)' }],
    },
    ...body,
  };
}

function main(argv: string[]): number {
  const rootAt = argv.indexOf('--root');
  const root = resolve(rootAt !== -1 && argv[rootAt + 1] ? argv[rootAt + 1]! : process.cwd());
  const positional = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--root');
  const out = resolve(root, positional[0] ?? 'dist/sbom.cdx.json');
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const now = epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date();
  const sbom = buildSbom(productionTree(root), now);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(sbom, null, 2)}\n`);
  process.stdout.write(`SBOM (CycloneDX 1.5): ${(sbom.components as unknown[]).length} components → ${out}\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
