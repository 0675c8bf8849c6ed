// Stage 2 unit tables: rule lookup (static/param, 404/405), query checks, and route compilation errors.

import { describe, expect, it } from 'vitest';
import { buildRuntime } from '../../src/config/load.js';
import type { RuleConfig } from '../../src/config/types.js';
import { compileFilter, type CompiledFilter } from '../../src/filters/compile.js';
import { canonicalise } from '../../src/pipeline/canonicalise.js';
import { checkQuery, compileRoutes, type CompiledRule, type RouteTable } from '../../src/pipeline/match.js';
import { DEMO_TABLE_FQN, DEMO_TABLE_ID } from '../../src/demo/data.js';
import { baseConfig, TEST_ENV } from '../helpers/harness.js';
import { CLASS, recordCases } from '../security/summary.js';

const runtime = buildRuntime(baseConfig({ upstreamUrl: 'http://127.0.0.1:9', jwksUrl: 'http://127.0.0.1:9/jwks.json' }), { env: TEST_ENV, source: 'match.test' });
const om: RouteTable = runtime.routes;

function segs(path: string): string[] {
  const c = canonicalise(path);
  if (!c.ok) throw new Error(`not canonical: ${path}: ${c.detail}`);
  return c.target.segments;
}

function ruleFor(path: string): CompiledRule {
  const m = om.match('GET', segs(path));
  if (!m.ok) throw new Error(`no rule for ${path}: ${m.reason}`);
  return m.rule;
}

function queryOf(target: string): Map<string, string> {
  const c = canonicalise(target);
  if (!c.ok) throw new Error(c.detail);
  return c.target.query;
}

const T = `/api/v1/tables/${DEMO_TABLE_ID}`;

describe('match: which rule serves a canonical path (openmetadata profile)', () => {
  it.each([
    ['list', '/api/v1/tables', 'om.tables.list'],
    ['param: uuid', T, 'om.tables.get'],
    ['static "name" beats nothing: by-name rule', `/api/v1/tables/name/${DEMO_TABLE_FQN}`, 'om.tables.getByName'],
    ['static "name" is not a uuid, uuid is not "name"', '/api/v1/tables/name/x', 'om.tables.getByName'],
    ['static tail after a param', `${T}/versions`, 'om.tables.versions.list'],
    ['two params', `${T}/versions/0.2`, 'om.tables.versions.get'],
    ['nested static path', '/api/v1/dashboard/datamodels', 'om.dashboardDataModels.list'],
    ['lineage by id: enum param then uuid', `/api/v1/lineage/table/${DEMO_TABLE_ID}`, 'om.lineage.byId'],
    ['lineage by name', `/api/v1/lineage/table/name/${DEMO_TABLE_FQN}`, 'om.lineage.byName'],
    ['static getLineage', '/api/v1/lineage/getLineage', 'om.lineage.search'],
    ['usage by id', `/api/v1/usage/table/${DEMO_TABLE_ID}`, 'om.usage.byId'],
    ['fqn with a kept encoding', '/api/v1/tables/name/svc.%22my%20db%22.t', 'om.tables.getByName'],
  ])('%s: %s → %s', (_d, path, id) => {
    recordCases(CLASS.matchUnit, 1);
    expect(ruleFor(path).id).toBe(id);
  });

  it.each([
    ['data endpoint: sampleData', `${T}/sampleData`],
    ['data endpoint: tableProfile', `/api/v1/tables/${DEMO_TABLE_FQN}/tableProfile/latest`],
    ['data endpoint: columnProfile', `/api/v1/tables/${DEMO_TABLE_FQN}/columnProfile`],
    ['data endpoint: queries', '/api/v1/queries'],
    ['data endpoint: search', '/api/v1/search/query'],
    ['data endpoint: dataQuality', '/api/v1/dataQuality/testCases'],
    ['case variant', '/API/v1/tables'],
    ['case variant of a static segment', '/api/v1/Tables'],
    ['upper-case uuid (ids are lower-case)', `/api/v1/tables/${DEMO_TABLE_ID.toUpperCase()}`],
    ['uuid with a suffix', `${T}x`],
    ['lineage: unknown entity type', `/api/v1/lineage/secret/${DEMO_TABLE_ID}`],
    ['lineage: entity param takes no alternation tail', `/api/v1/lineage/tablex/${DEMO_TABLE_ID}`],
    ['root', '/'],
    ['prefix only', '/api/v1'],
    ['one segment too many', `${T}/versions/0.2/x`],
    ['version not major.minor', `${T}/versions/1`],
    ['whoami is not a proxy rule', '/_metagate/whoami'],
  ])('no rule: %s → route_not_allowed', (_d, path) => {
    recordCases(CLASS.matchUnit, 1);
    const m = om.match('GET', segs(path));
    expect(m).toEqual({ ok: false, reason: 'route_not_allowed' });
  });

  it.each(['POST', 'HEAD', 'OPTIONS', 'DELETE', 'PUT', 'PATCH', 'TRACE', 'get'])('%s on an allowed path → method_not_allowed with Allow: GET', (method) => {
    recordCases(CLASS.matchUnit, 1);
    const get = om.match('GET', segs(T));
    if (!get.ok) throw new Error('GET on the table endpoint must match');
    // the refusal carries the rule the path matched, so the audit record can name the endpoint
    expect(om.match(method, segs(T))).toEqual({ ok: false, reason: 'method_not_allowed', allow: 'GET', rule: get.rule });
  });

  it('a write method on a path no rule serves is a 404, not a 405 (no hint that the path exists)', () => {
    recordCases(CLASS.matchUnit, 1);
    expect(om.match('DELETE', segs(`${T}/sampleData`))).toEqual({ ok: false, reason: 'route_not_allowed' });
  });

  it('no rule template of the profile names a data endpoint', () => {
    recordCases(CLASS.matchUnit, 1);
    expect(om.rules.length).toBeGreaterThan(20);
    for (const r of om.rules) {
      expect(r.method).toBe('GET');
      expect(r.path).not.toMatch(/sampleData|tableProfile|columnProfile|systemProfile|queries|dataQuality|search|export|failedRows/i);
    }
  });
});

describe('checkQuery: query keys and values against the rule', () => {
  const list = ruleFor('/api/v1/tables');
  const byId = ruleFor(T);
  const lineage = ruleFor(`/api/v1/lineage/table/${DEMO_TABLE_ID}`);
  const search = ruleFor('/api/v1/lineage/getLineage');
  const usage = ruleFor(`/api/v1/usage/table/${DEMO_TABLE_ID}`);

  type Row = [string, CompiledRule, string, { ok: true; upstreamQuery: string } | { ok: false; reason: string; detail: string }];
  const ok = (upstreamQuery: string) => ({ ok: true as const, upstreamQuery });
  const notAllowed = (detail: string) => ({ ok: false as const, reason: 'query_not_allowed', detail });
  const badValue = (key: string) => ({ ok: false as const, reason: 'query_value_not_allowed', detail: `"${key}"` });

  const rows: Row[] = [
    ['no query', list, '', ok('')],
    ['allowed fields', list, 'fields=columns,tags', ok('fields=columns%2Ctags')],
    ['key the endpoint does not take', byId, 'limit=10', notAllowed('query parameter "limit" is not accepted')],
    ['_method-like key', list, 'method=DELETE', notAllowed('"method" is not accepted')],
    ['raw DSL key on search lineage', search, `fqn=${DEMO_TABLE_FQN}&query_filter=x`, notAllowed('"query_filter" is not accepted')],
    ['source-field selection on search lineage', search, `fqn=${DEMO_TABLE_FQN}&fields=x`, notAllowed('"fields" is not accepted')],
    ['required key missing', search, 'upstreamDepth=1', notAllowed('"fqn" is required')],
    ['required key present', search, `fqn=${DEMO_TABLE_FQN}&upstreamDepth=1`, ok(`fqn=${DEMO_TABLE_FQN}&upstreamDepth=1`)],
    ['fields=sampleData', byId, 'fields=sampleData', badValue('fields')],
    ['fields=columns,sampleData', byId, 'fields=columns,sampleData', badValue('fields')],
    ['fields=columns,columns (duplicate item)', byId, 'fields=columns,columns', badValue('fields')],
    ['fields=profile', byId, 'fields=profile', badValue('fields')],
    ['fields=* (wildcard)', byId, 'fields=*', badValue('fields')],
    ['fields empty', byId, 'fields=', badValue('fields')],
    ['fields trailing comma', byId, 'fields=columns,', badValue('fields')],
    ['fields with a space', byId, 'fields=columns,%20tags', badValue('fields')],
    ['fields case variant', byId, 'fields=Columns', badValue('fields')],
    ['fields with encoded comma decodes to a list', byId, 'fields=columns%2Ctags', ok('fields=columns%2Ctags')],
    ['int: min', list, 'limit=1', ok('limit=1')],
    ['int: max', list, 'limit=1000', ok('limit=1000')],
    ['int: below min', list, 'limit=0', badValue('limit')],
    ['int: above max', list, 'limit=1001', badValue('limit')],
    ['int: negative', list, 'limit=-1', badValue('limit')],
    ['int: leading zero', list, 'limit=010', badValue('limit')],
    ['int: plus sign (encoded)', list, 'limit=%2B5', badValue('limit')],
    ['int: exponent', list, 'limit=1e3', badValue('limit')],
    ['int: hex', list, 'limit=0x10', badValue('limit')],
    ['int: decimal', list, 'limit=5.0', badValue('limit')],
    ['int: padded with a space', list, 'limit=%205', badValue('limit')],
    ['int: empty', list, 'limit=', badValue('limit')],
    ['int: huge', list, 'limit=99999999999999999999', badValue('limit')],
    ['lineage depth max 3', lineage, 'upstreamDepth=3&downstreamDepth=0', ok('upstreamDepth=3&downstreamDepth=0')],
    ['lineage depth 4', lineage, 'upstreamDepth=4', badValue('upstreamDepth')],
    ['enum', list, 'include=all', ok('include=all')],
    ['enum case variant', list, 'include=ALL', badValue('include')],
    ['bool true', list, 'includeEmptyTestSuite=true', ok('includeEmptyTestSuite=true')],
    ['bool 1', list, 'includeEmptyTestSuite=1', badValue('includeEmptyTestSuite')],
    ['bool TRUE', list, 'includeEmptyTestSuite=TRUE', badValue('includeEmptyTestSuite')],
    ['pattern: fqn with a space is re-encoded', list, 'database=my%20db', ok('database=my%20db')],
    ['pattern: quote re-encoded', list, "database=o'brien", ok('database=o%27brien')],
    ['pattern: slash refused', list, 'database=a/b', badValue('database')],
    ['pattern: too long', list, `database=${'a'.repeat(257)}`, badValue('database')],
    ['usage date', usage, 'date=2024-02-29&days=30', ok('date=2024-02-29&days=30')],
    ['usage date with a time', usage, 'date=2024-02-29T00:00', badValue('date')],
    ['usage days 31', usage, 'days=31', badValue('days')],
  ];

  it.each(rows)('%s', (_d, rule, qs, expected) => {
    recordCases(CLASS.matchUnit, 1);
    const r = checkQuery(rule, queryOf(`/x${qs ? '?' + qs : ''}`));
    if (expected.ok) expect(r).toEqual(expected);
    else {
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.reason).toBe(expected.reason);
      expect(r.detail).toContain(expected.detail);
    }
  });
});

// --------------------------------------------------------------------------------------------- compileRoutes
const filter = compileFilter('f', { mode: 'deny', fields: ['sampleData'] }).filter as CompiledFilter;
const FILTERS = new Map([['f', filter]]);
const PARAMS = new Map([
  ['uuid', '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'],
  ['word', '^[a-z]+$'],
  ['num', '^[0-9]+$'],
]);
let n = 0;
const rule = (path: string, extra: Partial<RuleConfig> = {}): RuleConfig => ({ id: `r${++n}`, method: 'GET', path, category: 'catalogue', filter: 'f', ...extra });
const compile = (rules: RuleConfig[], params: ReadonlyMap<string, string> = PARAMS) =>
  compileRoutes({ rules: rules.map((r, i) => ({ rule: r, where: `rules[${i}]` })), params, filters: FILTERS });

describe('compileRoutes: credentials', () => {
  it.each(['access_token', 'Token', 'JWT', 'api_key'])('a query key named %s is refused at config time (credentials never travel in a query string)', (key) => {
    recordCases(CLASS.matchUnit, 1);
    const { table, errors } = compile([rule('/x', { query: { [key]: { pattern: '^.*$' } } })]);
    expect(table).toBeUndefined();
    expect(errors.join('\n')).toMatch(new RegExp(`query\\.${key}: names a credential`));
  });
});

describe('compileRoutes: static and parameter segments', () => {
  it('a static segment and a parameter that cannot match it live side by side; each path finds its own rule', () => {
    recordCases(CLASS.matchUnit, 1);
    const { table, errors } = compile([rule('/x/name', { id: 'static' }), rule('/x/{n:num}', { id: 'param' }), rule('/x/{n:num}/name', { id: 'tail' })]);
    expect(errors).toEqual([]);
    expect(table!.match('GET', ['x', 'name'])).toMatchObject({ ok: true, rule: { id: 'static' } });
    expect(table!.match('GET', ['x', '42'])).toMatchObject({ ok: true, rule: { id: 'param' } });
    expect(table!.match('GET', ['x', '42', 'name'])).toMatchObject({ ok: true, rule: { id: 'tail' } });
    expect(table!.match('GET', ['x', 'other'])).toEqual({ ok: false, reason: 'route_not_allowed' });
  });

  it('a static segment the parameter can match is ambiguous: refused at config time, never resolved by order', () => {
    recordCases(CLASS.matchUnit, 1);
    const { table, errors } = compile([rule('/x/list', { id: 'static' }), rule('/x/{w:word}', { id: 'param' })]);
    expect(table).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('rules[1].path: "/x/{w:word}" (rule param) can match the same requests as "/x/list" (rule static) at rules[0]');
  });

  it('two parameters at one position are treated as overlapping', () => {
    recordCases(CLASS.matchUnit, 1);
    const { errors } = compile([rule('/x/{a:num}'), rule('/x/{b:word}')]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('can match the same requests');
  });

  it('the same path twice is ambiguous', () => {
    recordCases(CLASS.matchUnit, 1);
    const { errors } = compile([rule('/x/y'), rule('/x/y')]);
    expect(errors.join('\n')).toContain('can match the same requests');
  });

  it('paths of different lengths never overlap', () => {
    recordCases(CLASS.matchUnit, 1);
    expect(compile([rule('/x/{w:word}'), rule('/x/{w:word}/y'), rule('/x')]).errors).toEqual([]);
  });

  it('a parameter pattern that only looks anchored ("^a|b$") still has to match the whole segment', () => {
    recordCases(CLASS.matchUnit, 3);
    const { table, errors } = compile([rule('/lineage/{e:entity}', { id: 'lineage' })], new Map([['entity', '^table|topic$']]));
    expect(errors).toEqual([]);
    expect(table!.match('GET', ['lineage', 'table'])).toMatchObject({ ok: true });
    expect(table!.match('GET', ['lineage', 'topic'])).toMatchObject({ ok: true });
    // without whole-value anchoring '^table|topic$' matches any segment that starts with "table" or ends in "topic"
    expect(table!.match('GET', ['lineage', 'tablesampleData'])).toEqual({ ok: false, reason: 'route_not_allowed' });
    expect(table!.match('GET', ['lineage', 'sampleDatatopic'])).toEqual({ ok: false, reason: 'route_not_allowed' });
  });

  it('a query pattern that only looks anchored still has to match the whole value', () => {
    recordCases(CLASS.matchUnit, 1);
    const { table } = compile([rule('/q', { query: { k: { pattern: '^a|b$' } } })]);
    const r = table!.rules[0]!;
    expect(checkQuery(r, new Map([['k', 'a']])).ok).toBe(true);
    expect(checkQuery(r, new Map([['k', 'b']])).ok).toBe(true);
    expect(checkQuery(r, new Map([['k', 'a-then-anything']]))).toMatchObject({ ok: false, reason: 'query_value_not_allowed' });
    expect(checkQuery(r, new Map([['k', 'anything-then-b']]))).toMatchObject({ ok: false, reason: 'query_value_not_allowed' });
  });
});

describe('compileRoutes: configuration errors', () => {
  it.each<[string, RuleConfig[], ReadonlyMap<string, string> | undefined, string]>([
    ['unanchored param pattern', [rule('/x/{a:loose}')], new Map([['loose', '[a-z]+']]), 'params.loose: pattern "[a-z]+" must be anchored with ^ and $'],
    ['param pattern anchored only at the start', [rule('/x')], new Map([['half', '^[a-z]+']]), 'params.half: pattern "^[a-z]+" must be anchored'],
    ['invalid param regex', [rule('/x')], new Map([['bad', '^[a-z$']]), 'params.bad: pattern "^[a-z$" is not a valid regular expression'],
    ['a regex that is valid only once wrapped', [rule('/x')], new Map([['tricky', '^a)|(b$']]), 'params.tricky: pattern "^a)|(b$" is not a valid regular expression'],
    ['undeclared param type', [rule('/x/{id:nope}')], undefined, 'rules[0].path: parameter type "nope" is not declared in params'],
    ['param without a type', [rule('/x/{id}')], undefined, 'rules[0].path: segment "{id}" must be a plain word or "{name:type}"'],
    ['param inside a segment', [rule('/x/a{id:num}')], undefined, 'segment "a{id:num}" must be a plain word'],
    ['unbalanced brace', [rule('/x/{id:num')], undefined, 'is not a canonical path (character "{" in path)'],
    ['dot segment in a rule', [rule('/x/../y')], undefined, 'rules[0].path: "/x/../y" is not a canonical path (dot segment in path)'],
    ['encoded slash in a rule', [rule('/x%2Fy')], undefined, 'is not a canonical path (percent-encoded "/" in path)'],
    ['empty segment in a rule', [rule('/x//y')], undefined, 'is not a canonical path (empty path segment)'],
    ['trailing slash in a rule', [rule('/x/')], undefined, 'is not a canonical path (empty path segment)'],
    ['non-canonical static segment', [rule('/api/t%61bles')], undefined, 'rules[0].path: segment "t%61bles" is not in canonical form'],
    ['query inside a rule path', [rule('/api/tables?x=1')], undefined, 'segment "tables?x=1" is not in canonical form'],
    ['matrix parameter in a rule', [rule('/api/tables;x')], undefined, 'is not a canonical path'],
    ['relative rule path', [rule('api/tables')], undefined, 'is not a canonical path (request target must be origin-form'],
    ['duplicate rule id', [rule('/a', { id: 'same' }), rule('/b', { id: 'same' })], undefined, 'rules[1].id: rule id "same" is also used at rules[0]'],
    ['unknown filter', [rule('/a', { filter: 'nope' })], undefined, 'rules[0].filter: filter "nope" is not defined'],
    ['query spec with two kinds', [rule('/a', { query: { k: { enum: ['a'], bool: true } as never } })], undefined, 'rules[0].query.k: give exactly one of enum, list, int, pattern, bool (got enum, bool)'],
    ['query spec with no kind', [rule('/a', { query: { k: {} as never } })], undefined, 'rules[0].query.k: give exactly one of enum, list, int, pattern, bool (got none)'],
    ['max on a non-list', [rule('/a', { query: { k: { enum: ['a'], max: 2 } as never } })], undefined, 'rules[0].query.k.max: only applies to list'],
    ['int min above max', [rule('/a', { query: { k: { int: { min: 5, max: 1 } } } })], undefined, 'rules[0].query.k: int.min 5 is above int.max 1'],
    ['unanchored query pattern', [rule('/a', { query: { k: { pattern: 'a+' } } })], undefined, 'rules[0].query.k: pattern "a+" must be anchored'],
  ])('%s', (_d, rules, params, message) => {
    recordCases(CLASS.matchUnit, 1);
    const { table, errors } = compile(rules, params ?? PARAMS);
    expect(table).toBeUndefined();
    expect(errors.join('\n')).toContain(message);
  });

  it('every problem is reported at once, each with its config path', () => {
    recordCases(CLASS.matchUnit, 1);
    const { table, errors } = compile(
      [
        rule('/a/{x:nope}', { id: 'dup' }),
        rule('/b/../c', { id: 'dup' }),
        rule('/c', { filter: 'missing', query: { k: { pattern: 'x' }, j: { int: { min: 2, max: 1 } } } }),
        rule('/d/list'),
        rule('/d/{w:word}'),
      ],
      new Map([...PARAMS, ['bad', 'x']]),
    );
    expect(table).toBeUndefined();
    const expected = [
      'params.bad: pattern "x" must be anchored',
      'rules[0].path: parameter type "nope" is not declared',
      'rules[1].id: rule id "dup" is also used at rules[0]',
      'rules[1].path: "/b/../c" is not a canonical path',
      'rules[2].query.k: pattern "x" must be anchored',
      'rules[2].query.j: int.min 2 is above int.max 1',
      'rules[2].filter: filter "missing" is not defined',
      'rules[4].path: "/d/{w:word}"',
    ];
    for (const e of expected) expect(errors.some((x) => x.includes(e)), `missing: ${e}\n${errors.join('\n')}`).toBe(true);
    expect(errors).toHaveLength(expected.length);
  });

  it('the shipped openmetadata profile compiles without errors or ambiguity', () => {
    recordCases(CLASS.matchUnit, 1);
    expect(runtime.routes.rules.map((r) => r.id)).toContain('om.tables.get');
  });
});
