// The documented example profile (docs/profiles.md) loads and behaves as the page says.

import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRuntime } from '../../src/config/load.js';
import { canonicalise } from '../../src/pipeline/canonicalise.js';
import { checkQuery } from '../../src/pipeline/match.js';

const RID = 'ri.foundry.main.dataset.c019434d-4146-4bc8-9c53-d0c56cdd7ac9';

function runtime() {
  return buildRuntime(
    {
      upstream: { url: 'https://foundry.internal' },
      auth: { issuer: 'https://idp', audience: 'metagate', jwks: { url: 'https://idp/jwks' } },
      policy: { categories: { catalogue: { minClearance: 'STG_CONFIDENTIEEL' }, lineage: { minClearance: 'STG_GEHEIM' }, usage: { minClearance: 'STG_CONFIDENTIEEL' } } },
      routes: { profiles: [resolve('config/examples/foundry.yaml')] },
    },
    { env: {} },
  );
}

function match(target: string) {
  const c = canonicalise(target);
  if (!c.ok) throw new Error(c.detail);
  return runtime().routes.match('GET', c.target.segments);
}

describe('worked example: Foundry profile', () => {
  it('routes dataset metadata and schema', () => {
    const m = match(`/api/v2/datasets/${RID}`);
    expect(m.ok && m.rule.id).toBe('foundry.datasets.get');
    const s = match(`/api/v2/datasets/${RID}/getSchema`);
    expect(s.ok && s.rule.id).toBe('foundry.datasets.schema');
  });

  it.each(['readTable', 'files/a.csv/content'])('has no rule for the data endpoint %s', (tail) => {
    expect(match(`/api/v2/datasets/${RID}/${tail}`)).toEqual({ ok: false, reason: 'route_not_allowed' });
  });

  it('refuses SQL queries, ontology objects and malformed rids', () => {
    for (const p of ['/api/v2/sqlQueries/execute', '/api/v2/ontologies/x/objects/y', '/api/v2/datasets/not-a-rid']) expect(match(p).ok).toBe(false);
  });

  it('accepts only its query keys', () => {
    const m = match(`/api/v2/datasets/${RID}/getSchema`);
    if (!m.ok) throw new Error('no match');
    expect(checkQuery(m.rule, new Map([['branchName', 'master']]))).toEqual({ ok: true, upstreamQuery: 'branchName=master' });
    expect(checkQuery(m.rule, new Map([['sql', 'select 1']])).ok).toBe(false);
  });

  it('filters strictly: unlisted fields are dropped, a wrong shape is refused', () => {
    const f = runtime().filters.get('foundry-schema')!;
    const removed = new Map<string, number>();
    const out = f.apply({ branchName: 'master', rows: [[1, 2]], schema: { fieldSchemaList: [{ name: 'a', type: 'STRING', sample: 'x' }] } }, removed, 64);
    expect(out).toEqual({ branchName: 'master', schema: { fieldSchemaList: [{ name: 'a', type: 'STRING' }] } });
    expect(removed.get('_unlisted')).toBe(2);
    expect(() => f.apply({ schema: { fieldSchemaList: 'not-a-list' } }, new Map(), 64)).toThrow(/expected an array/);
  });
});
