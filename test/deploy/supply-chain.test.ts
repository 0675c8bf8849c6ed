// Supply chain: the licence gate (SPDX expressions, this tree passes, a bad licence fails) and the CycloneDX SBOM.

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPackages, licenseAllowed } from '../../scripts/licenses.js';
import { declaredLicense, productionTree, type ProdTree } from '../../scripts/prod-deps.js';
import { buildSbom, npmPurl } from '../../scripts/sbom.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

let tmp: string;
let tree: ProdTree;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'metagate-supply-'));
  tree = productionTree(ROOT);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('licence expressions', () => {
  it.each([
    ['MIT', true],
    ['Apache-2.0', true],
    ['BlueOak-1.0.0', true],
    ['(MIT OR GPL-3.0-only)', true],
    ['GPL-3.0-only OR MIT', true],
    ['MIT AND BSD-3-Clause', true],
    ['MIT AND GPL-3.0-only', false],
    ['(MIT OR (GPL-2.0-only AND Apache-2.0))', true],
    ['(GPL-2.0-only OR (AGPL-3.0-only AND MIT))', false],
    ['Apache-2.0 WITH LLVM-exception', true],
    ['GPL-2.0-only WITH Classpath-exception-2.0', false],
    ['SSPL-1.0', false],
    ['BUSL-1.1', false],
    ['CC-BY-NC-4.0', false],
    ['UNLICENSED', false],
    ['SEE LICENSE IN LICENSE.md', false],
    ['MIT)', false],
    ['(MIT', false],
    ['MIT OR', false],
    ['', false],
    [undefined, false],
  ])('%s → %s', (expr, ok) => {
    expect(licenseAllowed(expr)).toBe(ok);
  });

  it('reads legacy licence fields', () => {
    expect(declaredLicense({ license: { type: 'MIT', url: 'x' } })).toBe('MIT');
    expect(declaredLicense({ licenses: [{ type: 'MIT' }, { type: 'Apache-2.0' }] })).toBe('(MIT OR Apache-2.0)');
    expect(declaredLicense({ licenses: [{ type: 'BSD-3-Clause' }] })).toBe('BSD-3-Clause');
    expect(declaredLicense({})).toBeUndefined();
  });
});

describe('licence check of the production tree', () => {
  it('covers exactly the production dependencies (no dev tools) and passes', () => {
    const names = new Set(tree.packages.map((p) => p.name));
    for (const dep of Object.keys(PKG.dependencies)) expect(names.has(dep), dep).toBe(true);
    for (const dev of ['vitest', 'typescript', 'tsx', 'fast-check', 'oidc-provider', 'autocannon', '@types/node']) expect(names.has(dev), dev).toBe(false);
    const report = checkPackages(tree.packages);
    expect(report.refused).toEqual([]);
    expect(report.total).toBe(tree.packages.length);
  });

  it('the CLI exits 0 with a summary on this tree, and 1 naming the package on a tree with a bad licence', async () => {
    // a synthetic project: one good, one SSPL, one with no licence, one dev-only GPL package (ignored)
    const proj = join(tmp, 'proj');
    const pkg = (name: string, extra: Record<string, unknown>) => {
      mkdirSync(join(proj, 'node_modules', name), { recursive: true });
      writeFileSync(join(proj, 'node_modules', name, 'package.json'), JSON.stringify({ name, version: '1.0.0', ...extra }));
    };
    mkdirSync(proj, { recursive: true });
    writeFileSync(join(proj, 'package.json'), JSON.stringify({ name: 'synthetic', version: '0.0.1', dependencies: { good: '1.0.0', bad: '1.0.0', bare: '1.0.0' }, devDependencies: { devonly: '1.0.0' } }));
    pkg('good', { license: 'MIT' });
    pkg('bad', { license: 'SSPL-1.0' });
    pkg('bare', {});
    pkg('devonly', { license: 'GPL-3.0-only' });

    const [ours, theirs] = await Promise.all([
      run(process.execPath, ['--import', 'tsx', 'scripts/licenses.ts'], { cwd: ROOT, timeout: 60_000 }),
      run(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/licenses.ts'), '--root', proj], { cwd: ROOT, timeout: 60_000 }).then(
        () => ({ code: 0, stdout: '', stderr: '' }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      ),
    ]);
    expect(ours.stdout).toMatch(/^licence check: \d+ production packages of metagate@/);
    expect(ours.stdout).toContain('all licences are on the allowlist');
    expect(theirs.code).toBe(1);
    expect(theirs.stdout).toContain('licence check: 3 production packages of synthetic@0.0.1');
    expect(theirs.stderr).toContain('  - bad@1.0.0: SSPL-1.0');
    expect(theirs.stderr).toContain('  - bare@1.0.0: (none declared)');
    expect(theirs.stderr).not.toContain('good@');
    expect(theirs.stderr).not.toContain('devonly');
  });
});

describe('CycloneDX SBOM', () => {
  it('purls follow the npm purl spec (scope percent-encoded)', () => {
    expect(npmPurl('fastify', '5.12.8')).toBe('pkg:npm/fastify@5.12.8');
    expect(npmPurl('@fastify/reply-from', '12.6.5')).toBe('pkg:npm/%40fastify/reply-from@12.6.5');
  });

  it('the CLI writes a CycloneDX 1.5 document of the production tree with name, version, purl, licences', async () => {
    const out = join(tmp, 'sbom.cdx.json');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/sbom.ts', out], { cwd: ROOT, timeout: 60_000, env: { ...process.env, SOURCE_DATE_EPOCH: '1767225600' } });
    expect(stdout).toContain(`→ ${out}`);
    const bom = JSON.parse(readFileSync(out, 'utf8')) as Record<string, any>;
    expect(bom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.5', version: 1 });
    expect(bom.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(bom.metadata.timestamp).toBe('2026-01-01T00:00:00Z');
    expect(bom.metadata.component).toMatchObject({ type: 'application', name: 'metagate', purl: expect.stringMatching(/^pkg:npm\/metagate@/), licenses: [{ license: { id: 'EUPL-1.2' } }] });
    const comps = bom.components as Array<Record<string, any>>;
    for (const name of ['fastify', 'jose', 'ioredis']) {
      const c = comps.find((x) => x.name === name && !x.group);
      expect(c, name).toBeDefined();
      expect(c!.version).toBe(PKG.dependencies[name]);
      expect(c!.purl).toBe(`pkg:npm/${name}@${PKG.dependencies[name]}`);
      expect(c!.licenses).toEqual([{ license: { id: 'MIT' } }]);
      expect(c!.hashes[0]).toMatchObject({ alg: 'SHA-512', content: expect.stringMatching(/^[0-9a-f]{128}$/) });
    }
    const scoped = comps.find((x) => x.group === '@fastify' && x.name === 'http-proxy')!;
    expect(scoped.purl).toBe(`pkg:npm/%40fastify/http-proxy@${PKG.dependencies['@fastify/http-proxy']}`);
    expect(comps.some((x) => x.name === 'vitest' || x.name === 'typescript')).toBe(false);
    // every reference resolves, and the document is stable for the same tree and time
    const refs = new Set([bom.metadata.component['bom-ref'], ...comps.map((x) => x['bom-ref'])]);
    expect(refs.size).toBe(comps.length + 1);
    for (const d of bom.dependencies as Array<{ ref: string; dependsOn: string[] }>) {
      expect(refs.has(d.ref)).toBe(true);
      for (const r of d.dependsOn) expect(refs.has(r), r).toBe(true);
    }
    const rootDeps = (bom.dependencies as Array<{ ref: string; dependsOn: string[] }>).find((d) => d.ref === bom.metadata.component['bom-ref'])!;
    expect(rootDeps.dependsOn).toContain(`pkg:npm/fastify@${PKG.dependencies.fastify}`);
    expect(JSON.stringify(buildSbom(tree, new Date('2026-01-01T00:00:00Z')))).toBe(JSON.stringify(bom));
  });
});
