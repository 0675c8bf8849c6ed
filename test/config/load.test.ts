// Config loading: a valid file builds a frozen runtime; a broken one lists every problem with its key path.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, buildRuntime, loadConfigFile, loadConfigText } from '../../src/config/load.js';
import { demoConfig } from '../../src/demo/demo.js';
import { minimalConfig } from '../helpers/config.js';

const run = promisify(execFile);
const ENV = { METAGATE_ADMIN_TOKEN: 'x'.repeat(40), METAGATE_UPSTREAM_CREDENTIAL: 'Bearer svc' };

const minimal = minimalConfig;

function problems(input: unknown, env: NodeJS.ProcessEnv = ENV): string[] {
  try {
    buildRuntime(input, { env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('valid configurations', () => {
  it('builds a minimal config with documented defaults', () => {
    const rt = buildRuntime(minimal(), { env: ENV });
    expect(rt.config.vendor.port).toBe(8080);
    expect(rt.config.admin.host).toBe('127.0.0.1');
    expect(rt.config.auth.typ).toBe('at+jwt');
    expect(rt.config.policy.nationality).toEqual({ allowed: ['NL'], arrayPolicy: 'reject', caseInsensitive: false });
    expect(rt.config.state.backend).toBe('memory');
    expect(rt.routes.rules.length).toBeGreaterThan(30);
    expect(rt.hash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('freezes the result deeply', () => {
    const rt = buildRuntime(minimal(), { env: ENV });
    expect(Object.isFrozen(rt.config)).toBe(true);
    expect(Object.isFrozen(rt.config.policy.categories.lineage)).toBe(true);
    expect(() => {
      (rt.config.policy.categories.lineage as { minClearance: string }).minClearance = 'DEPARTEMENTAAL_VERTROUWELIJK';
    }).toThrow(TypeError);
  });

  it('loads the shipped example and both profiles', () => {
    const rt = loadConfigFile('config/metagate.example.yaml', { env: ENV });
    expect(rt.routes.rules.some((r) => r.id === 'om.lineage.search')).toBe(false);
    expect(rt.secrets.adminTokens).toEqual([{ name: 'soc-operator', secret: ENV.METAGATE_ADMIN_TOKEN }]);
    const mq = buildRuntime({ ...minimal(), routes: { profiles: ['marquez'] } }, { env: ENV });
    expect(mq.routes.rules.every((r) => r.id.startsWith('mq.'))).toBe(true);
  });

  it('builds the demo configuration', () => {
    const rt = buildRuntime(demoConfig({ platformUrl: 'http://127.0.0.1:1', jwksUrl: 'http://127.0.0.1:2/jwks', vendorPort: 0, adminPort: 0, auditFile: '/tmp/x' }), {
      env: { METAGATE_DEMO_ADMIN_TOKEN: 'y'.repeat(32), METAGATE_DEMO_UPSTREAM_TOKEN: 'Bearer z' },
    });
    expect(rt.config.vendor.host).toBe('127.0.0.1');
  });

  it('lets a deployment replace (narrow) a profile rule by id and exclude another', () => {
    const cfg = minimal();
    cfg.routes = {
      profiles: ['openmetadata'],
      exclude: ['om.charts.list'],
      rules: [{ id: 'om.tables.list', method: 'GET', path: '/api/v1/tables', category: 'catalogue', query: { limit: { int: { min: 1, max: 10 } } }, filter: 'om-deny' }],
    };
    const rt = buildRuntime(cfg, { env: ENV });
    expect(rt.routes.rules.find((r) => r.id === 'om.charts.list')).toBeUndefined();
    expect([...rt.routes.rules.find((r) => r.id === 'om.tables.list')!.query.keys()]).toEqual(['limit']);
  });
});

describe('broken configurations list every problem with its key path', () => {
  it('reports schema problems together', () => {
    const cfg = minimal();
    cfg.vendor = { port: 'eighty', colour: 'blue' };
    cfg.auth.algorithms = ['HS256'];
    delete cfg.upstream;
    const p = problems(cfg);
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringContaining('vendor.port'),
        expect.stringMatching(/^vendor: unknown key "colour"/),
        expect.stringContaining('auth.algorithms[0]'),
        expect.stringContaining("must have required property 'upstream'"),
      ]),
    );
    expect(p.length).toBeGreaterThanOrEqual(4);
  });

  it('reports contradictions and semantic problems together', () => {
    const cfg = minimal();
    cfg.policy.categories.lineage.minClearance = 'TOP_SECRET';
    cfg.policy.clearance = { scale: ['STG_CONFIDENTIEEL', 'STG_GEHEIM', 'STG_GEHEIM'] };
    cfg.policy.nationality = { allowed: ['XX'] };
    cfg.auth.jwks = { url: 'http://idp.example/jwks', file: '/nonexistent.json' };
    cfg.upstream = { url: 'http://user:pw@10.0.0.1:8585/api?x=1', forwardHeaders: ['authorization', 'x-forwarded-for', 'if-none-match', 'range'], hiddenOrigins: ['http://OM.internal:8585/', 'ftp://om', 'om.internal', 'http://ok.internal:8585'] };
    cfg.vendor = { port: 9000 };
    cfg.admin = { port: 9000, tokens: [{ name: 'ops', secret: { env: 'MISSING_SECRET' } }] };
    cfg.routes = { profiles: ['openmetadata', 'nonexistent'], exclude: ['no.such.rule'] };
    cfg.state = { backend: 'redis' };
    const p = problems(cfg, {});
    const expected = [
      'policy.categories.lineage.minClearance: "TOP_SECRET" is not on policy.clearance.scale',
      'policy.clearance.scale[2]: "STG_GEHEIM" appears twice',
      'policy.nationality.allowed[0]: "XX"',
      'auth.jwks: give exactly one of url or file',
      'auth.jwks.url: must use https',
      'auth.jwks.file: file /nonexistent.json does not exist',
      'upstream.url: must not carry credentials',
      'upstream.url: must not carry a query or fragment',
      'upstream.url: must not carry a path',
      'upstream.forwardHeaders: "authorization" may never be forwarded',
      'upstream.forwardHeaders: "x-forwarded-for" may never be forwarded',
      'upstream.forwardHeaders: "if-none-match" may never be forwarded: a conditional or range request',
      'upstream.forwardHeaders: "range" may never be forwarded: a conditional or range request',
      'upstream.hiddenOrigins: "http://OM.internal:8585/" is not an origin; write it as scheme://host[:port] without a path, e.g. "http://om.internal:8585"',
      'upstream.hiddenOrigins: "ftp://om" is not an origin',
      'upstream.hiddenOrigins: "om.internal" is not an origin',
      'admin.port: 9000 is also vendor.port',
      'admin.tokens[0].secret: environment variable MISSING_SECRET is not set',
      'routes.profiles[1]: profile "nonexistent" not found',
      'routes.exclude[0]: no profile rule has id "no.such.rule"',
      'state.redis: required when state.backend is "redis"',
    ];
    for (const e of expected) expect(p.some((x) => x.includes(e)), `missing problem: ${e}\n${p.join('\n')}`).toBe(true);
    expect(p.some((x) => x.includes('ok.internal'))).toBe(false);
  });

  it('rejects two rules that can match one request, and a rule referring to undefined things', () => {
    const cfg = minimal();
    cfg.routes = {
      params: { any: '^[a-z]+$', id: '^[0-9]+$' },
      filters: { f: { mode: 'deny', fields: ['sampleData'] } },
      rules: [
        { id: 'a', method: 'GET', path: '/api/v1/things/{x:any}', category: 'catalogue', filter: 'f' },
        { id: 'b', method: 'GET', path: '/api/v1/things/{y:id}', category: 'catalogue', filter: 'f' },
        { id: 'c', method: 'GET', path: '/api/v1/things/list', category: 'catalogue', filter: 'f' },
        { id: 'd', method: 'GET', path: '/api/v1/other/{z:nope}', category: 'usage', filter: 'missing' },
        { id: 'e', method: 'GET', path: '/api/v1/x', category: 'usage', filter: 'f', query: { n: { int: { min: 5, max: 1 } }, p: { pattern: 'unanchored' } } },
        { id: 'e', method: 'GET', path: '/api/v1/../x', category: 'usage', filter: 'f' },
      ],
    };
    const p = problems(cfg);
    const all = p.join('\n');
    expect(all).toMatch(/routes\.rules\[1\]\.path: .*rule b.* can match the same requests as .*rule a/);
    expect(all).toMatch(/routes\.rules\[2\]\.path: .*rule c.* can match the same requests as .*rule a/);
    expect(all).toContain('routes.rules[3].path: parameter type "nope" is not declared in params');
    expect(all).toContain('routes.rules[3].filter: filter "missing" is not defined');
    expect(all).toContain('routes.rules[4].query.n: int.min 5 is above int.max 1');
    expect(all).toContain('routes.rules[4].query.p: pattern "unanchored" must be anchored');
    expect(all).toContain('routes.rules[5].id: rule id "e" is also used at routes.rules[4]');
    cfg.routes.rules[5].id = 'f';
    expect(problems(cfg).join('\n')).toMatch(/routes\.rules\[5\]\.path: .*not a canonical path/);
  });

  // The loader copies every parsed string out of the YAML text (one byte per character where it can be: ninth session).
  // The copy must be the same string: non-ASCII, a surrogate pair and a lone surrogate alike.
  it('keeps every string value exactly as the YAML says, whatever its characters', () => {
    const values = ['/tmp/audit-\u00e9\u2014.jsonl', '/tmp/audit-\ud83d\ude00.jsonl', '/tmp/audit-\ud800x.jsonl', '/tmp/audit-plain.jsonl'];
    const text = readFileSync(new URL('../../config/metagate.example.yaml', import.meta.url), 'utf8');
    for (const v of values) {
      const yaml = `# a comment with a dash \u2014 beyond Latin-1\n${text.replace('destination: /var/lib/metagate/audit/audit.jsonl', `destination: ${JSON.stringify(v)}`)}`;
      const rt = loadConfigText(yaml, { env: ENV });
      expect(rt.config.audit.destination).toBe(v);
      expect(rt.routes.rules.map((r) => r.id)).toEqual(loadConfigText(text, { env: ENV }).routes.rules.map((r) => r.id));
    }
  });

  it('rejects duplicate YAML keys and YAML syntax errors', () => {
    expect(() => loadConfigText('upstream:\n  url: http://a\nupstream:\n  url: http://b\n')).toThrow(/YAML: Map keys must be unique/);
    expect(() => loadConfigText('upstream: [unclosed\n')).toThrow(ConfigError);
  });
});

describe('metagate check-config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'metagate-config-'));
  const cli = ['--import', 'tsx', 'src/cli.ts'];

  it('exits 0 for a valid file', async () => {
    const { stdout } = await run(process.execPath, [...cli, 'check-config', '--config', 'config/metagate.example.yaml'], { env: { ...process.env, ...ENV } });
    expect(stdout).toMatch(/is valid: \d+ rules, config hash [0-9a-f]{16}/);
  });

  it('exits non-zero and lists every problem with its key path', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'vendor:\n  port: -1\n  colour: red\nupstream:\n  url: ftp://x\nauth:\n  issuer: https://i\n  audience: a\n  jwks: {}\npolicy:\n  categories:\n    catalogue: {minClearance: NOPE}\n');
    const err = (await run(process.execPath, [...cli, 'check-config', '--config', file], { env: { ...process.env } }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    ))!;
    expect(err).not.toBeNull();
    expect(err.code).toBe(1);
    for (const path of ['vendor.port', 'vendor: unknown key "colour"', 'upstream.url', 'policy.categories', "'lineage'", "'usage'"]) expect(err.stderr).toContain(path);
  });

  it('METAGATE_CONFIG is honoured and a missing file is a clear error', async () => {
    const err = (await run(process.execPath, [...cli, 'check-config'], { env: { ...process.env, METAGATE_CONFIG: join(dir, 'nope.yaml') } }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    ))!;
    expect(err.code).toBe(1);
    expect(err.stderr).toContain('cannot read');
  });
});
