// The image, without a Docker engine: lay out the build stage and the runtime stage the way the Dockerfile does
// (same files copied, production packages only at run time), then run the image's entry command and healthcheck.

import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevIssuer, personas } from '../../src/demo/issuer.js';
import { startDemoPlatform, DEMO_TABLE_ID, type DemoPlatform } from '../../src/demo/platform.js';
import { request } from '../helpers/http.js';
import { AUDIENCE, ISSUER } from '../helpers/harness.js';
import { createPki, type Pki } from '../tls/pki.js';
import { execForm, parseDockerfile } from './dockerfile.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

let tmp: string;
let app: string;
let pki: Pki;

/** Every file under dir (relative paths), following no symlinks. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'metagate-image-'));
  // --- build stage: COPY package*.json tsconfig.json src config → npm run build (tsc). node_modules as `npm ci` left it.
  const build = join(tmp, 'build');
  mkdirSync(build);
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json']) cpSync(join(ROOT, f), join(build, f));
  for (const d of ['src', 'config']) cpSync(join(ROOT, d), join(build, d), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(build, 'node_modules'), 'dir');
  // the image runs `npm run build` (tsc with type checking); here only the emit runs: `npm run typecheck` checks types
  await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noCheck'], { cwd: build, timeout: 150_000 });

  // --- runtime stage: package*.json, production packages only, dist/src, config/profiles
  app = join(tmp, 'app');
  mkdirSync(join(app, 'node_modules'), { recursive: true });
  for (const f of ['package.json', 'package-lock.json']) cpSync(join(ROOT, f), join(app, f));
  cpSync(join(build, 'dist/src'), join(app, 'dist/src'), { recursive: true });
  cpSync(join(ROOT, 'config/profiles'), join(app, 'config/profiles'), { recursive: true });
  const prod = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
  const top = join(ROOT, 'node_modules') + sep;
  for (const p of prod) {
    if (!p.startsWith(top)) continue;
    const rel = p.slice(top.length);
    if (rel.includes(`${sep}node_modules${sep}`)) continue; // nested packages come with their parent
    const target = join(app, 'node_modules', rel);
    mkdirSync(resolve(target, '..'), { recursive: true });
    if (!existsSync(target)) symlinkSync(p, target, 'dir');
  }
  pki = createPki();
}, 180_000);

afterAll(() => {
  pki?.remove();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the built image layout', () => {
  it('has the entry point, no TypeScript sources and no development packages', () => {
    expect(existsSync(join(app, 'dist/src/cli.js'))).toBe(true);
    expect(listing(join(app, 'dist')).filter((f) => f.endsWith('.ts'))).toEqual([]);
    const modules = readdirSync(join(app, 'node_modules'));
    for (const dev of ['typescript', 'vitest', 'tsx', 'fast-check', 'autocannon', 'oidc-provider']) expect(modules).not.toContain(dev);
    for (const dep of ['fastify', 'jose', 'ioredis', 'pino', 'yaml']) expect(modules).toContain(dep);
  });

  it('`node dist/src/cli.js --version` prints the package version', async () => {
    const { stdout } = await run(process.execPath, ['dist/src/cli.js', '--version'], { cwd: app });
    expect(stdout.trim()).toBe(PKG.version);
  });

  it('`check-config` accepts the example production configuration (with its files and environment in place)', async () => {
    const etc = join(tmp, 'etc');
    mkdirSync(join(etc, 'tls'), { recursive: true });
    mkdirSync(join(etc, 'secrets'), { recursive: true });
    for (const [name, file] of [['vendor.crt', pki.server.cert], ['vendor.key', pki.server.key], ['vendor-client-ca.crt', pki.ca], ['platform-ca.crt', pki.ca], ['idp-ca.crt', pki.ca]] as const) cpSync(file, join(etc, 'tls', name));
    writeFileSync(join(etc, 'secrets/admin-token'), 'an-admin-token-of-at-least-32-characters\n');
    const text = readFileSync(join(ROOT, 'docker/metagate.example.yaml'), 'utf8').replaceAll('/etc/metagate/', `${etc}/`).replaceAll('/var/lib/metagate/', `${tmp}/volume/`);
    writeFileSync(join(etc, 'metagate.yaml'), text);
    const env = { ...process.env, METAGATE_UPSTREAM_CREDENTIAL: 'Bearer platform-service-credential' };
    const { stdout } = await run(process.execPath, ['dist/src/cli.js', 'check-config', '--config', join(etc, 'metagate.yaml')], { cwd: app, env });
    expect(stdout).toMatch(/^configuration .* is valid: \d+ rules, config hash [0-9a-f]{16}\n$/);

    // and without the environment it lists what is missing, exit 1
    const failed = await run(process.execPath, ['dist/src/cli.js', 'check-config', '--config', join(etc, 'metagate.yaml')], { cwd: app, env: { PATH: process.env.PATH ?? '' } }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('upstream.credential.value: environment variable METAGATE_UPSTREAM_CREDENTIAL is not set');
  });

  it('`check-config` accepts the compose trial configuration', async () => {
    const compose = parse(readFileSync(join(ROOT, 'docker/compose.yaml'), 'utf8')) as { configs: Record<string, { content: string }> };
    const dir = join(tmp, 'trial');
    mkdirSync(join(dir, 'jwks'), { recursive: true });
    writeFileSync(join(dir, 'jwks/jwks.json'), '{"keys":[]}');
    writeFileSync(join(dir, 'metagate.yaml'), compose.configs['metagate-config']!.content.replaceAll('/etc/metagate/', `${dir}/`));
    const env = { ...process.env, METAGATE_ADMIN_TOKEN: 'x'.repeat(48), METAGATE_UPSTREAM_CREDENTIAL: 'Bearer trial' };
    const { stdout } = await run(process.execPath, ['dist/src/cli.js', 'check-config', '--config', join(dir, 'metagate.yaml')], { cwd: app, env });
    expect(stdout).toContain('is valid');
  });
});

describe('`serve` from the image layout', () => {
  let platform: DemoPlatform;
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await platform?.close();
  });

  it('serves, answers /healthz and /readyz, passes the image HEALTHCHECK, writes only to the audit volume, stops on SIGTERM', async () => {
    platform = await startDemoPlatform();
    const issuer = await createDevIssuer({ issuer: ISSUER, audience: AUDIENCE, kid: 'image-1' });
    const dir = join(tmp, 'serve');
    const volume = join(tmp, 'serve-volume');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(issuer.jwks));
    writeFileSync(
      join(dir, 'metagate.yaml'),
      stringify({
        vendor: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        upstream: { url: platform.url },
        auth: { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'], jwks: { file: 'jwks.json' } },
        policy: { categories: { catalogue: { minClearance: 'STG_CONFIDENTIEEL' }, lineage: { minClearance: 'STG_GEHEIM' }, usage: { minClearance: 'STG_CONFIDENTIEEL' } } },
        routes: { profiles: ['openmetadata'] },
        audit: { destination: join(volume, 'audit/audit.jsonl') },
        sovereignty: { allowedRanges: ['127.0.0.0/8'] },
        log: { level: 'info' },
      }),
    );
    const before = listing(app);
    const { stages } = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    const final = stages.at(-1)!;
    const entrypoint = execForm(final.instructions.find((i) => i.op === 'ENTRYPOINT')!.args);
    const cmd = execForm(final.instructions.find((i) => i.op === 'CMD')!.args);
    expect(entrypoint[0]).toBe('node');
    // the image's command with the config path swapped for this test's file
    const args = [...entrypoint.slice(1), ...cmd.map((a) => (a === '/etc/metagate/metagate.yaml' ? join(dir, 'metagate.yaml') : a))];
    child = spawn(process.execPath, args, { cwd: app, env: { ...process.env, NODE_ENV: 'production' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const listening = await new Promise<{ vendor: string; admin: string }>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`not listening after 30 s:\n${stderr}`)), 30_000);
      child!.stderr!.on('data', (c: Buffer) => {
        stderr += c.toString();
        const line = stderr.split('\n').find((l) => l.includes('"msg":"metagate listening"'));
        if (line) {
          clearTimeout(timer);
          resolvePromise(JSON.parse(line) as { vendor: string; admin: string });
        }
      });
      child!.once('exit', (code) => reject(new Error(`exited ${code}:\n${stderr}`)));
    });

    expect((await request(listening.admin, '/healthz')).status).toBe(200);
    expect((await request(listening.admin, '/readyz')).json()).toMatchObject({ status: 'ready' });
    const token = await issuer.mint(personas(Math.floor(Date.now() / 1000)).geheim!.claims);
    const res = await request(listening.vendor, `/api/v1/tables/${DEMO_TABLE_ID}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);

    // the HEALTHCHECK command, exactly as the Dockerfile gives it
    const hc = final.instructions.find((i) => i.op === 'HEALTHCHECK')!.args;
    const hcCmd = execForm(hc.slice(hc.indexOf('CMD') + 3).trim());
    const healthcheck = (url: string) =>
      run(process.execPath, hcCmd.slice(1), { cwd: app, env: { ...process.env, METAGATE_HEALTHCHECK_URL: url }, timeout: 10_000 }).then(
        () => 0,
        (e: { code: number }) => e.code,
      );
    expect(await healthcheck(`${listening.admin}/healthz`)).toBe(0);
    expect(await healthcheck(`${listening.admin}/no-such-path`)).toBe(1);
    expect(await healthcheck('http://127.0.0.1:1/healthz')).toBe(1);

    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // read-only root filesystem friendly: the application directory is unchanged, the audit went to the volume
    expect(listing(app)).toEqual(before);
    expect(readFileSync(join(volume, 'audit/audit.jsonl'), 'utf8')).toContain('"action":"vendor_request"');
    expect(statSync(join(volume, 'audit/audit.jsonl')).size).toBeGreaterThan(0);
  });
});
