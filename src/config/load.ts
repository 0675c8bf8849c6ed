// Loads, validates and freezes the configuration: every problem reported at once with its key path.

import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../version.js';
import { Ajv, type ErrorObject } from 'ajv';
import { parseDocument } from 'yaml';
import { compileFilter, type CompiledFilter } from '../filters/compile.js';
import { BUILTIN_FILTERS } from '../filters/builtin.js';
import { compileOrigins, type HiddenOrigin } from '../filters/origins.js';
import { compileRoutes, type RouteTable } from '../pipeline/match.js';
import { compilePolicy, type CompiledPolicy } from '../policy/claims.js';
import { isKnownAlpha2 } from '../policy/nationality.js';
import { CATEGORIES } from '../policy/reasons.js';
import { parseCidr, type Cidr } from '../sovereignty/cidr.js';
import { configSchema, profileSchema } from './schema.js';
import type { FilterConfig, MetagateConfig, ProfileConfig, RuleConfig, Secret } from './types.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[], readonly source: string) {
    super(`invalid configuration ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Everything the gateway runs on, derived once from a valid config and frozen. */
export interface Runtime {
  readonly config: MetagateConfig;
  readonly routes: RouteTable;
  readonly policy: CompiledPolicy;
  readonly filters: ReadonlyMap<string, CompiledFilter>;
  /** the upstream's origin and upstream.hiddenOrigins: removed from every allowed answer */
  readonly hiddenOrigins: readonly HiddenOrigin[];
  readonly secrets: Readonly<{ upstreamCredential?: string; adminTokens: ReadonlyArray<{ name: string; secret: string }>; redisPassword?: string }>;
  readonly allowedRanges: readonly Cidr[];
  /** short SHA-256 of the effective configuration, for metrics and audit */
  readonly hash: string;
  readonly source: string;
}

export const DEFAULT_REDIS_KEY_PREFIX = 'metagate:';
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 500;

export const PROFILES_DIR = resolve(PACKAGE_ROOT, 'config/profiles');

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true });
const validateConfig = ajv.compile(configSchema);
const validateProfile = ajv.compile(profileSchema);

/** Aliases a YAML document may expand (the yaml library's default, 100, is too few for a config reusing an anchor per rule). */
export const MAX_YAML_ALIAS_COUNT = 1000;

/**
 * Parse YAML text strictly: syntax errors, warnings (e.g. an unknown tag such as `!env`, which would otherwise become a
 * plain string), duplicate keys and conversion failures (unresolved aliases, alias bombs) are all problems, never throws.
 */
function parseYaml(text: string): { ok: true; data: unknown } | { ok: false; problems: string[] } {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const issues = [...doc.errors, ...doc.warnings];
  if (issues.length > 0) return { ok: false, problems: issues.map((e) => `YAML: ${e.message.split('\n')[0]!.replace(/:$/, '')}`) };
  try {
    return { ok: true, data: compactStrings(doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT }) as unknown) };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const detail = /alias count/i.test(msg) ? `${msg} (more than ${MAX_YAML_ALIAS_COUNT} alias expansions)` : msg;
    return { ok: false, problems: [`YAML: ${detail}`] };
  }
}

const SURROGATE_RE = /[\ud800-\udfff]/;

/**
 * The parsed values with every string copied out of the file's text. The parser's strings are slices of the whole
 * text, and a text holding one character beyond Latin-1 (a dash in a comment) is kept two bytes per character: every
 * rule id, category and name from it would be too, and so would every audit line that holds one — serialised, hashed
 * and written at twice the size, with the whole file kept alive behind each slice (docs/performance.md, ninth pass).
 * A copy decoded from UTF-8 is one byte per character whenever its characters allow.
 */
function compactStrings(v: unknown): unknown {
  // (a string with a surrogate is two bytes per character anyway, and a lone one would not survive the round trip)
  if (typeof v === 'string') return SURROGATE_RE.test(v) ? v : Buffer.from(v, 'utf8').toString('utf8');
  if (Array.isArray(v)) return v.map(compactStrings);
  if (v === null || typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return v;
  const out: Record<string, unknown> = {};
  // defined, not assigned: a "__proto__" key stays an own key (the schema names it), never the prototype
  for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: compactStrings(x), enumerable: true, writable: true, configurable: true });
  return out;
}

/**
 * A JSON pointer as a key path in the one format every message uses: `admin.tokens[2].secret` (array elements in
 * brackets, object keys after dots). Whether a segment is an array index is read from the data itself.
 */
function keyPath(data: unknown, pointer: string): string {
  let out = '';
  let cur: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
  }
  return out;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** The key paths a schema failure makes untrustworthy ('' = the whole document): semantic checks reading them are skipped. */
function brokenKeys(errors: ErrorObject[] | null | undefined, data: unknown): string[] {
  return (errors ?? []).map((e) => {
    const path = keyPath(data, e.instancePath);
    if (e.keyword === 'additionalProperties') return join(path, (e.params as { additionalProperty: string }).additionalProperty);
    if (e.keyword === 'required') return join(path, (e.params as { missingProperty: string }).missingProperty);
    return path;
  });
}

function formatAjv(errors: ErrorObject[] | null | undefined, data: unknown): string[] {
  const out: string[] = [];
  for (const e of errors ?? []) {
    // oneOf failures repeat each branch's complaint; report the oneOf itself once
    if (e.keyword === 'oneOf') continue;
    const path = keyPath(data, e.instancePath) || '(root)';
    if (e.keyword === 'additionalProperties') out.push(`${path}: unknown key "${(e.params as { additionalProperty: string }).additionalProperty}"`);
    else if (e.keyword === 'enum') out.push(`${path}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`);
    else out.push(`${path}: ${e.message ?? e.keyword}`);
  }
  return [...new Set(out)];
}

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

function readSecret(s: Secret, path: string, env: NodeJS.ProcessEnv, baseDir: string, problems: string[]): string | undefined {
  if ('env' in s) {
    const v = env[s.env];
    if (v === undefined || v === '') problems.push(`${path}: environment variable ${s.env} is not set`);
    return v || undefined;
  }
  const file = isAbsolute(s.file) ? s.file : resolve(baseDir, s.file);
  try {
    const v = readFileSync(file, 'utf8').trim();
    if (!v) problems.push(`${path}: secret file ${s.file} is empty`);
    return v || undefined;
  } catch (err) {
    problems.push(`${path}: secret file ${s.file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

/**
 * Resolve a file named in the config against the config file's directory and check it is a readable regular file
 * (the listener, TLS context or key store reads it later, where a failure would not name the key).
 * Returns the absolute path, and whether the file is usable.
 */
function checkFile(key: string, f: string, baseDir: string, problems: string[]): { abs: string; ok: boolean } {
  const abs = isAbsolute(f) ? f : resolve(baseDir, f);
  if (!existsSync(abs)) {
    problems.push(`${key}: file ${f} does not exist`);
    return { abs, ok: false };
  }
  try {
    if (!statSync(abs).isFile()) {
      problems.push(`${key}: file ${f} cannot be read (not a regular file)`);
      return { abs, ok: false };
    }
    accessSync(abs, fsConstants.R_OK);
  } catch (err) {
    problems.push(`${key}: file ${f} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return { abs, ok: false };
  }
  return { abs, ok: true };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** directory relative paths in the config are resolved against (the config file's directory) */
  baseDir?: string;
  source?: string;
}

/** Parse YAML text strictly (duplicate keys are errors) and build the runtime. */
export function loadConfigText(text: string, opts: LoadOptions = {}): Runtime {
  const source = opts.source ?? '(inline)';
  const parsed = parseYaml(text);
  if (!parsed.ok) throw new ConfigError(parsed.problems, source);
  return buildRuntime(parsed.data, { ...opts, source });
}

export function loadConfigFile(path: string, opts: LoadOptions = {}): Runtime {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`], path);
  }
  return loadConfigText(text, { baseDir: dirname(resolve(path)), ...opts, source: path });
}

export function buildRuntime(input: unknown, opts: LoadOptions = {}): Runtime {
  const source = opts.source ?? '(inline)';
  const env = opts.env ?? process.env;
  const baseDir = opts.baseDir ?? process.cwd();
  const raw = structuredClone(input ?? {});
  const valid = validateConfig(raw);
  const schemaProblems = valid ? [] : formatAjv(validateConfig.errors, raw);
  if (!valid && (raw === null || typeof raw !== 'object' || Array.isArray(raw))) throw new ConfigError(schemaProblems, source);
  // A schema error does not stop the checks below: each runs when the keys it reads passed the schema, so one type
  // error does not hide every other problem in the file.
  const broken = valid ? [] : brokenKeys(validateConfig.errors, raw);
  const under = (inner: string, outer: string) => inner === outer || outer === '' || inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`);
  const ok = (...keys: string[]) => keys.every((k) => !broken.some((b) => under(k, b) || under(b, k)));
  const config = raw as unknown as MetagateConfig;
  const problems: string[] = [];

  // --- listeners
  if (ok('vendor.port', 'admin.port') && config.vendor.port !== 0 && config.vendor.port === config.admin.port) problems.push(`admin.port: ${config.admin.port} is also vendor.port; the two listeners must never share a port`);
  // node refuses to start a server whose headersTimeout exceeds its requestTimeout
  if (ok('vendor.headersTimeoutMs', 'vendor.requestTimeoutMs') && config.vendor.headersTimeoutMs > config.vendor.requestTimeoutMs) {
    problems.push(`vendor.headersTimeoutMs: ${config.vendor.headersTimeoutMs} is above vendor.requestTimeoutMs (${config.vendor.requestTimeoutMs}); the headers must arrive within the request timeout`);
  }
  for (const name of ['vendor', 'admin'] as const) {
    if (!ok(`${name}.tls`)) continue;
    const t = config[name].tls;
    if (!t) continue;
    // read later by the listener: check readability and resolve against the config file's directory now
    for (const key of ['certFile', 'keyFile', 'clientCaFile'] as const) {
      const f = t[key];
      if (f) t[key] = checkFile(`${name}.tls.${key}`, f, baseDir, problems).abs;
    }
    if (t.requireClientCert && !t.clientCaFile) problems.push(`${name}.tls.requireClientCert: needs ${name}.tls.clientCaFile`);
    if (t.requireCertificateBoundTokens && !t.requireClientCert) problems.push(`${name}.tls.requireCertificateBoundTokens: needs ${name}.tls.requireClientCert: true`);
  }

  // --- upstream
  if (ok('upstream.url')) {
    try {
      const u = new URL(config.upstream.url);
      if (u.username || u.password) problems.push('upstream.url: must not carry credentials; use upstream.credential');
      if (u.search || u.hash) problems.push('upstream.url: must not carry a query or fragment');
      if (u.pathname !== '/') problems.push('upstream.url: must not carry a path; rules name full paths');
    } catch {
      problems.push(`upstream.url: "${config.upstream.url}" is not a URL`);
    }
  }
  if (ok('upstream.hiddenOrigins')) {
    for (const o of config.upstream.hiddenOrigins) {
      let origin: string | null = null;
      try {
        const u = new URL(o);
        if (u.protocol === 'http:' || u.protocol === 'https:') origin = u.origin;
      } catch {
        // not a URL: reported below
      }
      // exactly an origin as a URL writes it (lower-case host, no default port, no path or slash): what the platform
      // writes into its links, and nothing that could hold a quote or a backslash
      if (origin !== o) problems.push(`upstream.hiddenOrigins: "${o}" is not an origin; write it as scheme://host[:port] without a path${origin ? `, e.g. "${origin}"` : ''}`);
    }
  }
  if (ok('upstream.caFile') && config.upstream.caFile) config.upstream.caFile = checkFile('upstream.caFile', config.upstream.caFile, baseDir, problems).abs;
  const forbiddenForward = ['authorization', 'cookie', 'host', 'connection', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-original-url', 'x-rewrite-url', 'x-http-method-override', 'x-method-override', 'x-http-method', 'te', 'transfer-encoding', 'content-length', 'upgrade', 'proxy-authorization', 'accept-encoding'];
  // conditional and range requests ask the platform about its unfiltered answer: a 304 or a 206 would tell the vendor
  // whether a guess of a removed value was right (docs/faults.md F51)
  const conditional = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range'];
  // the headers the gateway writes on every upstream request (rewrite.ts), and hop-by-hop headers (RFC 9110 §7.6.1)
  // or ones the upstream client refuses; X-Forwarded-*, the other client-address and rewrite headers, the identity
  // headers and the service credential's own header are matched as families
  const ownOrHopByHop = ['accept', 'user-agent', 'x-request-id', 'keep-alive', 'proxy-connection', 'trailer', 'expect', 'x-real-ip', 'x-client-ip', 'true-client-ip', 'cf-connecting-ip', 'fastly-client-ip', 'x-cluster-client-ip', 'x-proxied-https', 'front-end-https', 'x-url-scheme', 'x-host'];
  const forbiddenPrefixes = ['x-forwarded-', 'x-original-', 'x-rewrite-', 'x-metagate-'];
  if (ok('upstream.forwardHeaders')) {
    const credentialHeader = typeof config.upstream.credential?.header === 'string' ? config.upstream.credential.header.toLowerCase() : undefined;
    for (const h of config.upstream.forwardHeaders) {
      if (forbiddenForward.includes(h) || ownOrHopByHop.includes(h) || forbiddenPrefixes.some((p) => h.startsWith(p)) || h === credentialHeader) problems.push(`upstream.forwardHeaders: "${h}" may never be forwarded`);
      else if (conditional.includes(h)) problems.push(`upstream.forwardHeaders: "${h}" may never be forwarded: a conditional or range request asks about the platform's unfiltered answer`);
    }
  }

  // --- auth
  if (ok('auth.jwks')) {
    const j = config.auth.jwks;
    if ((j.url === undefined) === (j.file === undefined)) problems.push('auth.jwks: give exactly one of url or file');
    if (j.url) {
      try {
        const u = new URL(j.url);
        if (u.protocol !== 'https:' && !isLoopbackHost(u.hostname)) problems.push('auth.jwks.url: must use https (plain http is accepted on loopback only)');
      } catch {
        problems.push(`auth.jwks.url: "${j.url}" is not a URL`);
      }
    }
    if (j.file) {
      // a file source is read once at start and never retried: a broken file must fail here, naming the key
      const given = j.file;
      const f = checkFile('auth.jwks.file', given, baseDir, problems);
      j.file = f.abs;
      if (f.ok) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(readFileSync(f.abs, 'utf8')) as unknown;
          if (!parsed || typeof parsed !== 'object' || !Array.isArray((parsed as { keys?: unknown }).keys)) problems.push(`auth.jwks.file: file ${given} is not a JWKS: it needs a "keys" array`);
        } catch (err) {
          problems.push(`auth.jwks.file: file ${given} is not valid JSON (${(err as Error).message})`);
        }
      }
    }
    if (j.caFile) j.caFile = checkFile('auth.jwks.caFile', j.caFile, baseDir, problems).abs;
  }
  if (ok('auth.maxTokenAgeSec') && config.auth.maxTokenAgeSec < 60) problems.push('auth.maxTokenAgeSec: must be at least 60');
  if (ok('auth.requiredClaims') && !config.auth.requiredClaims.includes('iat')) problems.push('auth.requiredClaims: must include "iat" (maximum token age is enforced)');
  if (ok('auth.requiredClaims') && !config.auth.requiredClaims.includes('exp')) problems.push('auth.requiredClaims: must include "exp"');

  // --- policy
  if (ok('policy.clearance.scale')) {
    const scale = config.policy.clearance.scale;
    const seen = new Set<string>();
    scale.forEach((name, i) => {
      if (seen.has(name)) problems.push(`policy.clearance.scale[${i}]: "${name}" appears twice`);
      seen.add(name);
    });
    for (const cat of CATEGORIES) {
      if (!ok(`policy.categories.${cat}.minClearance`)) continue;
      const min = config.policy.categories[cat].minClearance;
      if (!seen.has(min)) problems.push(`policy.categories.${cat}.minClearance: "${min}" is not on policy.clearance.scale (${scale.join(' < ')})`);
    }
  }
  if (ok('policy.nationality.allowed')) {
    config.policy.nationality.allowed.forEach((c, i) => {
      if (!isKnownAlpha2(c)) problems.push(`policy.nationality.allowed[${i}]: "${c}" is not a known ISO 3166-1 alpha-2 code`);
    });
  }
  if (ok('policy.orgs') && config.policy.orgs.required && config.policy.orgs.allowed.length === 0) problems.push('policy.orgs.required: needs policy.orgs.allowed');

  // --- state
  if (ok('state.backend', 'state.redis')) {
    if (config.state.redis) {
      config.state.redis.keyPrefix ??= DEFAULT_REDIS_KEY_PREFIX;
      config.state.redis.commandTimeoutMs ??= DEFAULT_REDIS_COMMAND_TIMEOUT_MS;
    }
    if (config.state.backend === 'redis' && !config.state.redis) problems.push('state.redis: required when state.backend is "redis"');
    if (config.state.backend === 'memory' && config.state.redis) problems.push('state.redis: given, but state.backend is "memory"; set backend: redis or remove it');
  }

  // --- audit: a file destination is relative to the config file's directory, like every other path
  if (ok('audit.destination')) {
    const d = config.audit.destination;
    if (d !== 'stdout' && !isAbsolute(d)) config.audit.destination = resolve(baseDir, d);
  }

  // --- sovereignty
  const allowedRanges: Cidr[] = [];
  if (ok('sovereignty.allowedRanges')) {
    config.sovereignty.allowedRanges.forEach((r, i) => {
      const c = parseCidr(r);
      if (!c) problems.push(`sovereignty.allowedRanges[${i}]: "${r}" is not a CIDR range`);
      else allowedRanges.push(c);
    });
  }

  // --- routes: profiles, then config-level params/filters/rules
  const filters = new Map<string, CompiledFilter>();
  let table: RouteTable | null = null;
  if (ok('routes')) {
    const params = new Map<string, string>();
    const filterCfgs = new Map<string, { cfg: FilterConfig; where: string }>(Object.entries(BUILTIN_FILTERS).map(([k, v]) => [k, { cfg: v, where: 'built-in' }]));
    const rules = new Map<string, { rule: RuleConfig; where: string }>();
    const addParams = (p: Record<string, string> | undefined, where: string) => {
      for (const [k, v] of Object.entries(p ?? {})) {
        if (params.has(k) && params.get(k) !== v) problems.push(`${where}.params.${k}: redefines a parameter type with a different pattern`);
        params.set(k, v);
      }
    };
    const addFilters = (f: Record<string, FilterConfig> | undefined, where: string) => {
      for (const [k, v] of Object.entries(f ?? {})) {
        const prev = filterCfgs.get(k);
        if (prev && JSON.stringify(prev.cfg) !== JSON.stringify(v)) problems.push(`${where}.filters.${k}: redefines filter "${k}" from ${prev.where}`);
        filterCfgs.set(k, { cfg: v, where: `${where}.filters.${k}` });
      }
    };
    config.routes.profiles.forEach((name, i) => {
      const where = `routes.profiles[${i}]`;
      const profile = loadProfile(name, baseDir, where, problems);
      if (!profile) return;
      addParams(profile.params, `profile ${profile.profile}`);
      addFilters(profile.filters, `profile ${profile.profile}`);
      profile.rules.forEach((rule, k) => {
        const w = `profile ${profile.profile}.rules[${k}]`;
        if (rules.has(rule.id)) problems.push(`${w}.id: rule id "${rule.id}" is also defined at ${rules.get(rule.id)!.where}`);
        rules.set(rule.id, { rule, where: w });
      });
    });
    addParams(config.routes.params, 'routes');
    addFilters(config.routes.filters, 'routes');
    config.routes.exclude.forEach((id, i) => {
      if (!rules.delete(id)) problems.push(`routes.exclude[${i}]: no profile rule has id "${id}"`);
    });
    // a rule in routes.rules with a profile rule's id replaces it (the way to narrow a profile rule)
    const ownIds = new Map<string, number>();
    config.routes.rules.forEach((rule, i) => {
      const first = ownIds.get(rule.id);
      if (first !== undefined) problems.push(`routes.rules[${i}].id: rule id "${rule.id}" is also used at routes.rules[${first}]`);
      else ownIds.set(rule.id, i);
      if (first === undefined) rules.set(rule.id, { rule, where: `routes.rules[${i}]` });
    });
    if (rules.size === 0) problems.push('routes: no rules; name a profile in routes.profiles or add routes.rules');

    for (const [name, { cfg, where }] of filterCfgs) {
      const { filter, errors } = compileFilter(name, cfg);
      for (const e of errors) problems.push(`${where}: ${e}`);
      if (filter) filters.set(name, filter);
    }
    const compiled = compileRoutes({ rules: [...rules.values()], params, filters });
    problems.push(...compiled.errors);
    table = compiled.table ?? null;
  }

  // --- secrets
  const secrets: { upstreamCredential?: string; adminTokens: Array<{ name: string; secret: string }>; redisPassword?: string } = { adminTokens: [] };
  if (ok('upstream.credential') && config.upstream.credential) {
    const v = readSecret(config.upstream.credential.value, 'upstream.credential.value', env, baseDir, problems);
    if (v !== undefined) secrets.upstreamCredential = v;
  }
  (Array.isArray(config.admin?.tokens) ? config.admin.tokens : []).forEach((t, i) => {
    if (!ok(`admin.tokens[${i}]`)) return;
    const v = readSecret(t.secret, `admin.tokens[${i}].secret`, env, baseDir, problems);
    if (v !== undefined && v.length < 32) problems.push(`admin.tokens[${i}].secret: must be at least 32 characters`);
    else if (v !== undefined) secrets.adminTokens.push({ name: t.name, secret: v });
  });
  const redis = ok('state.redis') ? config.state.redis : undefined;
  if (redis && redis.mode !== 'single' && redis.password) {
    const v = readSecret(redis.password, 'state.redis.password', env, baseDir, problems);
    if (v !== undefined) secrets.redisPassword = v;
  }

  // fail closed on the schema's verdict, not on the messages: formatAjv drops oneOf summaries, and a failure that
  // produced no message of its own must still refuse the file
  if (!valid && schemaProblems.length === 0) schemaProblems.push('(root): does not match the configuration schema');
  if (!valid || problems.length > 0 || !table) throw new ConfigError([...schemaProblems, ...problems], source);
  const hash = createHash('sha256').update(JSON.stringify({ config, rules: table.rules.map((r) => r.id) })).digest('hex').slice(0, 16);
  return Object.freeze({
    config: deepFreeze(config),
    routes: table,
    policy: compilePolicy(config.policy),
    filters,
    hiddenOrigins: compileOrigins(config.upstream.url, config.upstream.hiddenOrigins),
    secrets: Object.freeze(secrets),
    allowedRanges: Object.freeze(allowedRanges),
    hash,
    source,
  });
}

function loadProfile(name: string, baseDir: string, where: string, problems: string[]): ProfileConfig | null {
  const file = /^[a-z0-9-]+$/.test(name) ? resolve(PROFILES_DIR, `${name}.yaml`) : isAbsolute(name) ? name : resolve(baseDir, name);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    problems.push(`${where}: profile "${name}" not found (looked for ${file})`);
    return null;
  }
  const parsed = parseYaml(text);
  if (!parsed.ok) {
    problems.push(...parsed.problems.map((p) => `${where} (profile file ${file}): ${p}`));
    return null;
  }
  const data = parsed.data;
  if (!validateProfile(data)) {
    problems.push(...formatAjv(validateProfile.errors, data).map((p) => `${where} (${name}): ${p}`));
    return null;
  }
  return data as unknown as ProfileConfig;
}
