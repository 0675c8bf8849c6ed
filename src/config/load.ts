// Loads, validates and freezes the configuration: every problem reported at once with its key path.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../version.js';
import { Ajv, type ErrorObject } from 'ajv';
import { parseDocument } from 'yaml';
import { compileFilter, type CompiledFilter } from '../filters/compile.js';
import { BUILTIN_FILTERS } from '../filters/builtin.js';
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

function formatAjv(errors: ErrorObject[] | null | undefined, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of errors ?? []) {
    // oneOf failures repeat each branch's complaint; report the oneOf itself once
    if (e.keyword === 'oneOf') continue;
    const path = (prefix + e.instancePath.replace(/\//g, '.')).replace(/^\./, '') || '(root)';
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
  } catch {
    problems.push(`${path}: secret file ${s.file} cannot be read`);
    return undefined;
  }
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
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`), source);
  return buildRuntime(doc.toJS() as unknown, { ...opts, source });
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
  if (!validateConfig(raw)) throw new ConfigError(formatAjv(validateConfig.errors), source);
  const config = raw as unknown as MetagateConfig;
  const problems: string[] = [];

  // --- listeners
  if (config.vendor.port !== 0 && config.vendor.port === config.admin.port) problems.push(`admin.port: ${config.admin.port} is also vendor.port; the two listeners must never share a port`);
  for (const [name, l] of [['vendor', config.vendor], ['admin', config.admin]] as const) {
    const t = l.tls;
    if (!t) continue;
    for (const key of ['certFile', 'keyFile', 'clientCaFile'] as const) {
      const f = t[key];
      if (f && !existsSync(isAbsolute(f) ? f : resolve(baseDir, f))) problems.push(`${name}.tls.${key}: file ${f} does not exist`);
    }
    // read later by the listener: resolve against the config file's directory now, as the existence check does
    for (const key of ['certFile', 'keyFile', 'clientCaFile'] as const) {
      const f = t[key];
      if (f && !isAbsolute(f)) t[key] = resolve(baseDir, f);
    }
    if (t.requireClientCert && !t.clientCaFile) problems.push(`${name}.tls.requireClientCert: needs ${name}.tls.clientCaFile`);
    if (t.requireCertificateBoundTokens && !t.requireClientCert) problems.push(`${name}.tls.requireCertificateBoundTokens: needs ${name}.tls.requireClientCert: true`);
  }

  // --- upstream
  try {
    const u = new URL(config.upstream.url);
    if (u.username || u.password) problems.push('upstream.url: must not carry credentials; use upstream.credential');
    if (u.search || u.hash) problems.push('upstream.url: must not carry a query or fragment');
    if (u.pathname !== '/') problems.push('upstream.url: must not carry a path; rules name full paths');
  } catch {
    problems.push(`upstream.url: "${config.upstream.url}" is not a URL`);
  }
  const upCa = config.upstream.caFile;
  if (upCa) {
    const abs = isAbsolute(upCa) ? upCa : resolve(baseDir, upCa);
    if (!existsSync(abs)) problems.push(`upstream.caFile: file ${upCa} does not exist`);
    config.upstream.caFile = abs;
  }
  const forbiddenForward = ['authorization', 'cookie', 'host', 'connection', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-original-url', 'x-rewrite-url', 'x-http-method-override', 'x-method-override', 'x-http-method', 'te', 'transfer-encoding', 'content-length', 'upgrade', 'proxy-authorization', 'accept-encoding'];
  for (const h of config.upstream.forwardHeaders) if (forbiddenForward.includes(h)) problems.push(`upstream.forwardHeaders: "${h}" may never be forwarded`);

  // --- auth
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
  if (j.file && !existsSync(isAbsolute(j.file) ? j.file : resolve(baseDir, j.file))) problems.push(`auth.jwks.file: file ${j.file} does not exist`);
  if (j.file && !isAbsolute(j.file)) j.file = resolve(baseDir, j.file);
  if (j.caFile && !isAbsolute(j.caFile)) j.caFile = resolve(baseDir, j.caFile);
  if (j.caFile && !existsSync(j.caFile)) problems.push(`auth.jwks.caFile: file ${j.caFile} does not exist`);
  if (config.auth.maxTokenAgeSec < 60) problems.push('auth.maxTokenAgeSec: must be at least 60');
  if (!config.auth.requiredClaims.includes('iat')) problems.push('auth.requiredClaims: must include "iat" (maximum token age is enforced)');
  if (!config.auth.requiredClaims.includes('exp')) problems.push('auth.requiredClaims: must include "exp"');

  // --- policy
  const scale = config.policy.clearance.scale;
  const seen = new Set<string>();
  scale.forEach((name, i) => {
    if (seen.has(name)) problems.push(`policy.clearance.scale[${i}]: "${name}" appears twice`);
    seen.add(name);
  });
  for (const cat of CATEGORIES) {
    const min = config.policy.categories[cat].minClearance;
    if (!seen.has(min)) problems.push(`policy.categories.${cat}.minClearance: "${min}" is not on policy.clearance.scale (${scale.join(' < ')})`);
  }
  config.policy.nationality.allowed.forEach((c, i) => {
    if (!isKnownAlpha2(c)) problems.push(`policy.nationality.allowed[${i}]: "${c}" is not a known ISO 3166-1 alpha-2 code`);
  });
  if (config.policy.orgs.required && config.policy.orgs.allowed.length === 0) problems.push('policy.orgs.required: needs policy.orgs.allowed');

  // --- state
  if (config.state.redis) {
    config.state.redis.keyPrefix ??= DEFAULT_REDIS_KEY_PREFIX;
    config.state.redis.commandTimeoutMs ??= DEFAULT_REDIS_COMMAND_TIMEOUT_MS;
  }
  if (config.state.backend === 'redis' && !config.state.redis) problems.push('state.redis: required when state.backend is "redis"');
  if (config.state.backend === 'memory' && config.state.redis) problems.push('state.redis: given, but state.backend is "memory"; set backend: redis or remove it');

  // --- sovereignty
  const allowedRanges: Cidr[] = [];
  config.sovereignty.allowedRanges.forEach((r, i) => {
    const c = parseCidr(r);
    if (!c) problems.push(`sovereignty.allowedRanges[${i}]: "${r}" is not a CIDR range`);
    else allowedRanges.push(c);
  });

  // --- routes: profiles, then config-level params/filters/rules
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

  const filters = new Map<string, CompiledFilter>();
  for (const [name, { cfg, where }] of filterCfgs) {
    const { filter, errors } = compileFilter(name, cfg);
    for (const e of errors) problems.push(`${where}: ${e}`);
    if (filter) filters.set(name, filter);
  }
  const { table, errors: routeErrors } = compileRoutes({ rules: [...rules.values()], params, filters });
  problems.push(...routeErrors);

  // --- secrets
  const secrets: { upstreamCredential?: string; adminTokens: Array<{ name: string; secret: string }>; redisPassword?: string } = { adminTokens: [] };
  if (config.upstream.credential) {
    const v = readSecret(config.upstream.credential.value, 'upstream.credential.value', env, baseDir, problems);
    if (v !== undefined) secrets.upstreamCredential = v;
  }
  config.admin.tokens.forEach((t, i) => {
    const v = readSecret(t.secret, `admin.tokens[${i}].secret`, env, baseDir, problems);
    if (v !== undefined && v.length < 32) problems.push(`admin.tokens[${i}].secret: must be at least 32 characters`);
    else if (v !== undefined) secrets.adminTokens.push({ name: t.name, secret: v });
  });
  const redis = config.state.redis;
  if (redis && redis.mode !== 'single' && redis.password) {
    const v = readSecret(redis.password, 'state.redis.password', env, baseDir, problems);
    if (v !== undefined) secrets.redisPassword = v;
  }

  if (problems.length > 0 || !table) throw new ConfigError(problems, source);
  const hash = createHash('sha256').update(JSON.stringify({ config, rules: table.rules.map((r) => r.id) })).digest('hex').slice(0, 16);
  return Object.freeze({
    config: deepFreeze(config),
    routes: table,
    policy: compilePolicy(config.policy),
    filters,
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
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    problems.push(...doc.errors.map((e) => `${where} (${name}): YAML: ${e.message.split('\n')[0]}`));
    return null;
  }
  const data = doc.toJS() as unknown;
  if (!validateProfile(data)) {
    problems.push(...formatAjv(validateProfile.errors).map((p) => `${where} (${name}): ${p}`));
    return null;
  }
  return data as unknown as ProfileConfig;
}
