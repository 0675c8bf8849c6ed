// Review findings: YAML failures are config errors naming the file, paths resolve against the config file's
// directory, start-time failures are caught by check-config, and every problem is listed at once in one path format.

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, buildRuntime, loadConfigFile, loadConfigText } from '../../src/config/load.js';
import { minimalConfig } from '../helpers/config.js';

const ENV = { METAGATE_ADMIN_TOKEN: 'x'.repeat(40) };
const BASE = `upstream:
  url: http://127.0.0.1:8585
auth:
  issuer: https://idp.example
  audience: metagate
  jwks: { url: https://idp.example/jwks }
policy:
  categories:
    catalogue: { minClearance: STG_CONFIDENTIEEL }
    lineage: { minClearance: STG_GEHEIM }
    usage: { minClearance: STG_CONFIDENTIEEL }
`;

const minimal = minimalConfig;

function problems(input: unknown, opts: { env?: NodeJS.ProcessEnv; baseDir?: string } = {}): string[] {
  try {
    buildRuntime(input, { env: ENV, ...opts });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const BILLION_LAUGHS = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`)].join('\n') + '\n';

const ROOT = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'metagate-hardening-'));
const write = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

describe('YAML failures are configuration errors naming the file', () => {
  it('accepts a config that uses one anchor for 120 rules', () => {
    const rules = Array.from({ length: 120 }, (_, i) => `    - { id: r${i + 1}, method: GET, path: /api/r${i + 1}, category: catalogue, filter: *f }`).join('\n');
    const text = `${BASE}routes:\n  filters:\n    mine: { mode: deny, fields: [secret] }\n  rules:\n    - { id: r0, method: GET, path: /api/r0, category: catalogue, filter: &f mine }\n${rules}\n`;
    const rt = loadConfigFile(write('many-aliases.yaml', text), { env: ENV });
    expect(rt.routes.rules.length).toBe(121);
  });

  it('refuses a billion-laughs document with a ConfigError naming the file', () => {
    const file = write('laughs.yaml', BILLION_LAUGHS);
    const err = configError(() => loadConfigFile(file, { env: ENV }));
    expect(err.message).toContain(file);
    expect(err.problems.join('\n')).toMatch(/YAML: .*alias/i);
  });

  it('treats an unknown tag (YAML warning) as an error with its line', () => {
    const file = write('tag.yaml', BASE.replace('audience: metagate', 'audience: !env METAGATE_AUD') + 'routes: { profiles: [openmetadata] }\n');
    const err = configError(() => loadConfigFile(file, { env: ENV }));
    expect(err.message).toContain(file);
    expect(err.problems.join('\n')).toMatch(/YAML: Unresolved tag: !env at line 5/);
  });

  it('names the line of a syntax error', () => {
    const err = configError(() => loadConfigText('upstream: [unclosed\n', { source: 'x.yaml' }));
    expect(err.problems.join('\n')).toMatch(/line \d+/);
    expect(err.message).toContain('x.yaml');
  });

  it('an unresolved alias is a ConfigError', () => {
    configError(() => loadConfigText('upstream: *nope\n'));
  });

  it('a profile file with too many aliases or an unknown tag is a ConfigError naming the profile file', () => {
    const laughs = write('laughs-profile.yaml', `profile: p\nrules: []\n${BILLION_LAUGHS.replace(/^a:/, 'x-a:').replace(/\n(\w):/g, '\nx-$1:')}`);
    const cfg = minimal();
    cfg.routes = { profiles: [laughs] };
    const p = problems(cfg);
    expect(p.join('\n')).toMatch(/routes\.profiles\[0\].*laughs-profile\.yaml.*YAML: .*alias/i);
    const tagged = write('tag-profile.yaml', 'profile: p\ndescription: !secret x\nrules: []\n');
    cfg.routes = { profiles: [tagged] };
    expect(problems(cfg).join('\n')).toMatch(/routes\.profiles\[0\].*tag-profile\.yaml.*YAML: Unresolved tag: !secret at line 2/);
  });
});

describe('relative paths resolve against the config file directory', () => {
  const sub = join(dir, 'conf');
  mkdirSync(sub, { recursive: true });
  const load = (dest: string) => loadConfigFile(write('conf/a.yaml', `${BASE}routes: { profiles: [openmetadata] }\naudit: { destination: ${JSON.stringify(dest)} }\n`), { env: ENV }).config.audit.destination;

  it('audit.destination: relative is resolved, absolute and stdout are kept', () => {
    expect(load('logs/audit.jsonl')).toBe(join(sub, 'logs/audit.jsonl'));
    expect(load('/var/log/audit.jsonl')).toBe('/var/log/audit.jsonl');
    expect(load('stdout')).toBe('stdout');
  });
});

describe('what would fail at start is caught by the check', () => {
  it('vendor.headersTimeoutMs above vendor.requestTimeoutMs names both keys', () => {
    const cfg = minimal();
    cfg.vendor = { headersTimeoutMs: 40000, requestTimeoutMs: 30000 };
    expect(problems(cfg)).toContainEqual(expect.stringMatching(/^vendor\.headersTimeoutMs: .*vendor\.requestTimeoutMs/));
    cfg.vendor = { headersTimeoutMs: 30000, requestTimeoutMs: 30000 };
    expect(problems(cfg)).toEqual([]);
  });

  it('an empty vendor.host or admin.host is refused', () => {
    const cfg = minimal();
    cfg.vendor = { host: '' };
    cfg.admin = { host: '' };
    const p = problems(cfg).join('\n');
    expect(p).toMatch(/^vendor\.host: /m);
    expect(p).toMatch(/^admin\.host: /m);
  });

  it('TLS, JWKS and secret files must be readable files', () => {
    const d = join(dir, 'adir');
    mkdirSync(d, { recursive: true });
    const cfg = minimal();
    cfg.vendor = { tls: { certFile: d, keyFile: d } };
    cfg.auth.jwks = { file: d };
    cfg.admin = { tokens: [{ name: 'ops', secret: { file: d } }] };
    const p = problems(cfg).join('\n');
    expect(p).toMatch(/^vendor\.tls\.certFile: .*cannot be read/m);
    expect(p).toMatch(/^vendor\.tls\.keyFile: .*cannot be read/m);
    expect(p).toMatch(/^auth\.jwks\.file: .*cannot be read/m);
    expect(p).toMatch(/^admin\.tokens\[0\]\.secret: .*cannot be read/m);
  });

  // root reads any file whatever its mode (CAP_DAC_OVERRIDE): as root the check runs in `check-config` with those
  // capabilities dropped (setpriv, util-linux), where the mode counts as it does for the container's non-root user
  it('an unreadable TLS key names its key path', () => {
    const key = write('unreadable.key', 'x');
    chmodSync(key, 0o000);
    const cfg = minimal();
    cfg.vendor = { tls: { certFile: key, keyFile: key } };
    if (process.getuid?.() !== 0) {
      expect(problems(cfg).join('\n')).toMatch(/^vendor\.tls\.keyFile: .*cannot be read/m);
      return;
    }
    cfg.admin = { tokens: [{ name: 'ops', secret: { env: 'METAGATE_ADMIN_TOKEN' } }] };
    const file = write('unreadable-key.yaml', stringify(cfg));
    const drop = ['--bounding-set=-dac_override,-dac_read_search', '--inh-caps=-dac_override,-dac_read_search'];
    const r = spawnSync('setpriv', [...drop, process.execPath, '--import', 'tsx', 'src/cli.ts', 'check-config', '--config', file], { cwd: ROOT, env: { ...process.env, ...ENV }, encoding: 'utf8', timeout: 30_000 });
    expect(r.error, 'setpriv (util-linux) is needed to drop root\'s file-permission override').toBeUndefined();
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^ {2}- vendor\.tls\.keyFile: .*cannot be read \(EACCES\)$/m);
  });

  it('auth.jwks.file must hold a JWKS (JSON with a keys array)', () => {
    const cfg = minimal();
    cfg.auth.jwks = { file: write('bad.json', '{"keys": [') };
    expect(problems(cfg).join('\n')).toMatch(/^auth\.jwks\.file: .*not valid JSON/m);
    cfg.auth.jwks = { file: write('nokeys.json', '{"kty": "EC"}') };
    expect(problems(cfg).join('\n')).toMatch(/^auth\.jwks\.file: .*"keys" array/m);
    cfg.auth.jwks = { file: 'good.json' };
    write('good.json', '{"keys": []}');
    expect(problems(cfg, { baseDir: dir })).toEqual([]);
  });
});

describe('every problem at once, one key path format', () => {
  it('lists semantic problems alongside a schema error', () => {
    const cfg = minimal();
    cfg.vendor = { port: 'eighty' };
    cfg.policy.nationality = { allowed: ['XX'] };
    cfg.upstream.url = 'http://user:pw@10.0.0.1:8585/api';
    cfg.admin = { tokens: [{ name: 'ops', secret: { env: 'MISSING_SECRET' } }] };
    cfg.routes = { profiles: ['openmetadata'], exclude: ['no.such.rule'] };
    const p = problems(cfg, { env: {} }).join('\n');
    for (const e of [
      'vendor.port: must be integer',
      'policy.nationality.allowed[0]: "XX"',
      'upstream.url: must not carry credentials',
      'upstream.url: must not carry a path',
      'admin.tokens[0].secret: environment variable MISSING_SECRET is not set',
      'routes.exclude[0]: no profile rule has id "no.such.rule"',
    ])
      expect(p, `missing problem: ${e}`).toContain(e);
  });

  it('skips checks that depend on a key with a schema error', () => {
    const cfg = minimal();
    cfg.policy.categories.lineage = { minClearance: 7 };
    const p = problems(cfg);
    expect(p).toEqual(['policy.categories.lineage.minClearance: must be string']);
  });

  it('uses key[index] for array elements in schema errors too', () => {
    const cfg = minimal();
    cfg.admin = { tokens: [{ name: 'a', secret: { env: 'METAGATE_ADMIN_TOKEN' } }, { name: 'b', secret: { env: 'METAGATE_ADMIN_TOKEN' } }, { name: 'c', secret: { nope: 1 } }] };
    cfg.auth.algorithms = ['HS256'];
    cfg.routes = { profiles: ['openmetadata'], filters: { '0': { mode: 'deny', fields: [1] } } };
    const p = problems(cfg);
    expect(p.join('\n')).toContain('admin.tokens[2].secret');
    expect(p.join('\n')).toContain('auth.algorithms[0]');
    expect(p.join('\n')).toContain('routes.filters.0.fields[0]');
    for (const x of p.filter((y) => !y.startsWith('routes.filters.0'))) expect(x, x).not.toMatch(/[A-Za-z]\.\d+[.:[ ]/);
  });
});
