// Stage 2: find the one allowlist rule for (method, canonical path) and check the query against it.

import type { CompiledFilter } from '../filters/compile.js';
import type { QuerySpec, RuleConfig } from '../config/types.js';
import type { Category } from '../policy/reasons.js';
import { canonicalise, encodeQueryValue } from './canonicalise.js';

type SegmentMatcher = { kind: 'static'; value: string } | { kind: 'param'; name: string; type: string; re: RegExp };

type QueryCheck = (value: string) => boolean;

export interface CompiledRule {
  readonly id: string;
  readonly method: 'GET';
  readonly path: string;
  readonly category: Category;
  readonly segments: readonly SegmentMatcher[];
  readonly query: ReadonlyMap<string, { check: QueryCheck; required: boolean; spec: QuerySpec }>;
  readonly requiredQuery: readonly string[];
  readonly filter: CompiledFilter;
}

export type MatchResult =
  | { ok: true; rule: CompiledRule }
  | { ok: false; reason: 'route_not_allowed' }
  /** the path is an allow-listed endpoint, the method is not: the rule is named in the audit record */
  | { ok: false; reason: 'method_not_allowed'; allow: string; rule: CompiledRule };

export type QueryResult =
  | { ok: true; upstreamQuery: string }
  | { ok: false; reason: 'query_not_allowed' | 'query_value_not_allowed'; detail: string };

interface TrieNode {
  statics: Map<string, TrieNode>;
  params: Array<{ re: RegExp; node: TrieNode }>;
  rules: CompiledRule[];
}

const newTrie = (): TrieNode => ({ statics: new Map(), params: [], rules: [] });

export class RouteTable {
  readonly rules: readonly CompiledRule[];
  private readonly root: TrieNode;

  constructor(rules: CompiledRule[]) {
    this.rules = Object.freeze([...rules]);
    this.root = newTrie();
    for (const rule of rules) {
      let node = this.root;
      for (const seg of rule.segments) {
        if (seg.kind === 'static') {
          let next = node.statics.get(seg.value);
          if (!next) node.statics.set(seg.value, (next = newTrie()));
          node = next;
        } else {
          let entry = node.params.find((p) => p.re.source === seg.re.source);
          if (!entry) node.params.push((entry = { re: seg.re, node: newTrie() }));
          node = entry.node;
        }
      }
      node.rules.push(rule);
    }
  }

  /** Every rule whose path template matches the canonical segments (config validation guarantees at most one). */
  private lookup(segments: readonly string[]): CompiledRule[] {
    const found: CompiledRule[] = [];
    const visit = (node: TrieNode, i: number): void => {
      if (i === segments.length) {
        found.push(...node.rules);
        return;
      }
      const seg = segments[i]!;
      const s = node.statics.get(seg);
      if (s) visit(s, i + 1);
      for (const p of node.params) if (p.re.test(seg)) visit(p.node, i + 1);
    };
    visit(this.root, 0);
    return found;
  }

  match(method: string, segments: readonly string[]): MatchResult {
    const found = this.lookup(segments);
    if (found.length === 0) return { ok: false, reason: 'route_not_allowed' };
    // Two matches cannot happen after config validation; if they ever do, refuse rather than pick one.
    if (found.length > 1) return { ok: false, reason: 'route_not_allowed' };
    const rule = found[0]!;
    if (method !== rule.method) return { ok: false, reason: 'method_not_allowed', allow: rule.method, rule };
    return { ok: true, rule };
  }
}

/** Check the parsed query against the rule and build the upstream query string from accepted values only. */
export function checkQuery(rule: CompiledRule, query: ReadonlyMap<string, string>): QueryResult {
  let out = '';
  for (const [key, value] of query) {
    const spec = rule.query.get(key);
    if (!spec) return { ok: false, reason: 'query_not_allowed', detail: `query parameter "${key}" is not accepted by this endpoint` };
    if (!spec.check(value)) return { ok: false, reason: 'query_value_not_allowed', detail: `the value of query parameter "${key}" is not allowed for this endpoint` };
    out += (out ? '&' : '') + key + '=' + encodeQueryValue(value);
  }
  for (const key of rule.requiredQuery) {
    if (!query.has(key)) return { ok: false, reason: 'query_not_allowed', detail: `query parameter "${key}" is required by this endpoint` };
  }
  return { ok: true, upstreamQuery: out };
}

/**
 * Query keys that name a credential (compared in lower case). A request that carries one is refused as a second or
 * misplaced credential whatever the endpoint accepts — a token in a URL ends up in logs, histories and referrers — and
 * no rule may accept one.
 */
export const CREDENTIAL_QUERY_KEYS: ReadonlySet<string> = new Set(['access_token', 'id_token', 'refresh_token', 'token', 'jwt', 'bearer', 'authorization', 'auth', 'api_key', 'apikey']);

const INT_RE = /^(0|-?[1-9][0-9]{0,15})$/;

function compileQuerySpec(spec: QuerySpec): { check?: QueryCheck; error?: string } {
  if ('enum' in spec) {
    const set = new Set(spec.enum);
    return { check: (v) => set.has(v) };
  }
  if ('list' in spec) {
    const set = new Set(spec.list);
    const max = spec.max ?? spec.list.length;
    return {
      check: (v) => {
        const items = v.split(',');
        if (items.length > max) return false;
        const seen = new Set<string>();
        for (const item of items) {
          if (!set.has(item) || seen.has(item)) return false;
          seen.add(item);
        }
        return true;
      },
    };
  }
  if ('int' in spec) {
    const { min, max } = spec.int;
    if (min > max) return { error: `int.min ${min} is above int.max ${max}` };
    return { check: (v) => INT_RE.test(v) && Number(v) >= min && Number(v) <= max };
  }
  if ('pattern' in spec) {
    const re = compileAnchored(spec.pattern);
    if (typeof re === 'string') return { error: re };
    return { check: (v) => re.test(v) };
  }
  if ('bool' in spec) return { check: (v) => v === 'true' || v === 'false' };
  return { error: 'query spec needs one of enum, list, int, pattern, bool' };
}

function compileAnchored(source: string): RegExp | string {
  if (!source.startsWith('^') || !source.endsWith('$')) return `pattern "${source}" must be anchored with ^ and $`;
  try {
    // Starting with '^' and ending with '$' is not the same as anchored: '^a|b$' matches 'a<anything>'. The group
    // makes the whole value match the whole pattern whatever alternations it holds.
    new RegExp(source, 'u');
    return new RegExp(`^(?:${source})$`, 'u');
  } catch (err) {
    return `pattern "${source}" is not a valid regular expression: ${(err as Error).message}`;
  }
}

const PARAM_RE = /^\{([A-Za-z][A-Za-z0-9_]*):([A-Za-z][A-Za-z0-9_]*)\}$/;

export interface CompileRoutesInput {
  rules: Array<{ rule: RuleConfig; where: string }>;
  params: ReadonlyMap<string, string>;
  filters: ReadonlyMap<string, CompiledFilter>;
}

/** Compile rules into a table; every problem is returned with the config path it came from. */
export function compileRoutes(input: CompileRoutesInput): { table?: RouteTable; errors: string[] } {
  const errors: string[] = [];
  const paramRes = new Map<string, RegExp>();
  for (const [name, src] of input.params) {
    const re = compileAnchored(src);
    if (typeof re === 'string') errors.push(`params.${name}: ${re}`);
    else paramRes.set(name, re);
  }
  const compiled: Array<{ rule: CompiledRule; where: string }> = [];
  const ids = new Map<string, string>();
  for (const { rule, where } of input.rules) {
    const ruleErrors: string[] = [];
    if (ids.has(rule.id)) ruleErrors.push(`${where}.id: rule id "${rule.id}" is also used at ${ids.get(rule.id)}`);
    ids.set(rule.id, where);
    const segments: SegmentMatcher[] = [];
    const canon = canonicalise(rule.path.replace(/\{[^}]*\}/g, 'x'));
    if (!canon.ok) ruleErrors.push(`${where}.path: "${rule.path}" is not a canonical path (${canon.detail})`);
    else {
      for (const raw of rule.path.slice(1).split('/')) {
        if (raw.includes('{') || raw.includes('}')) {
          const m = PARAM_RE.exec(raw);
          if (!m) {
            ruleErrors.push(`${where}.path: segment "${raw}" must be a plain word or "{name:type}"`);
            continue;
          }
          const re = paramRes.get(m[2]!);
          if (!re) {
            ruleErrors.push(`${where}.path: parameter type "${m[2]}" is not declared in params`);
            continue;
          }
          segments.push({ kind: 'param', name: m[1]!, type: m[2]!, re });
        } else {
          const c = canonicalise('/' + raw);
          if (!c.ok || c.target.path !== '/' + raw) ruleErrors.push(`${where}.path: segment "${raw}" is not in canonical form`);
          segments.push({ kind: 'static', value: raw });
        }
      }
    }
    const query = new Map<string, { check: QueryCheck; required: boolean; spec: QuerySpec }>();
    for (const [key, spec] of Object.entries(rule.query ?? {})) {
      const kinds = ['enum', 'list', 'int', 'pattern', 'bool'].filter((k) => k in spec);
      if (kinds.length !== 1) {
        ruleErrors.push(`${where}.query.${key}: give exactly one of enum, list, int, pattern, bool (got ${kinds.join(', ') || 'none'})`);
        continue;
      }
      if (CREDENTIAL_QUERY_KEYS.has(key.toLowerCase())) ruleErrors.push(`${where}.query.${key}: names a credential; credentials are accepted only in the Authorization header, never in the query string`);
      if ('max' in spec && !('list' in spec)) ruleErrors.push(`${where}.query.${key}.max: only applies to list`);
      const { check, error } = compileQuerySpec(spec);
      if (error || !check) ruleErrors.push(`${where}.query.${key}: ${error}`);
      else query.set(key, { check, required: spec.required === true, spec });
    }
    const filter = input.filters.get(rule.filter);
    if (!filter) ruleErrors.push(`${where}.filter: filter "${rule.filter}" is not defined`);
    errors.push(...ruleErrors);
    if (ruleErrors.length === 0 && filter) {
      compiled.push({
        where,
        rule: Object.freeze({
          id: rule.id,
          method: rule.method,
          path: rule.path,
          category: rule.category,
          segments: Object.freeze(segments),
          query,
          requiredQuery: Object.freeze([...query].filter(([, q]) => q.required).map(([k]) => k)),
          filter,
        }),
      });
    }
  }
  // Ambiguity: two rules that can match one request are a configuration error, never resolved by order.
  for (let i = 0; i < compiled.length; i++) {
    for (let j = i + 1; j < compiled.length; j++) {
      const a = compiled[i]!;
      const b = compiled[j]!;
      if (mayOverlap(a.rule.segments, b.rule.segments)) {
        errors.push(`${b.where}.path: "${b.rule.path}" (rule ${b.rule.id}) can match the same requests as "${a.rule.path}" (rule ${a.rule.id}) at ${a.where}`);
      }
    }
  }
  if (errors.length > 0) return { errors };
  return { table: new RouteTable(compiled.map((c) => c.rule)), errors };
}

function mayOverlap(a: readonly SegmentMatcher[], b: readonly SegmentMatcher[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.kind === 'static' && y.kind === 'static' && x.value !== y.value) return false;
    if (x.kind === 'static' && y.kind === 'param' && !y.re.test(x.value)) return false;
    if (x.kind === 'param' && y.kind === 'static' && !x.re.test(y.value)) return false;
    // two parameters at one position: assume they can overlap (regex intersection is not decidable cheaply)
  }
  return true;
}
