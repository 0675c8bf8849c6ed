// The shipped Marquez deny filter on the places facets occur (DESIGN §5: "No query parameter turns facets off: the
// gateway must strip them"). Facets are an open set, so the filter removes every `facets` object — dataset, job, run,
// dataset-version, field-level and lineage node data — and the OpenLineage event shapes inputFacets/outputFacets,
// whatever facets they hold and in whatever case the key is spelled, while the metadata outside facets stays.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { compileFilter, type CompiledFilter } from '../../src/filters/compile.js';
import type { FilterConfig } from '../../src/config/types.js';

const profile = parseYaml(readFileSync(new URL('../../config/profiles/marquez.yaml', import.meta.url), 'utf8')) as { filters: Record<string, FilterConfig> };
const compiled = compileFilter('mq-deny', profile.filters['mq-deny']!);
const mqDeny = compiled.filter as CompiledFilter;

function run(value: unknown): { out: unknown; removed: Record<string, number> } {
  const removed = new Map<string, number>();
  const out = mqDeny.apply(JSON.parse(JSON.stringify(value)), removed, 64);
  return { out: JSON.parse(JSON.stringify(out)), removed: Object.fromEntries(removed) };
}

/** Facets that the old list of known data-bearing facets did not name: each carries a canary. */
const CUSTOM_FACETS = {
  'spark.logicalPlan': { plan: [{ class: 'org.apache.spark.sql.catalyst.expressions.Literal', value: 'CANARY-LOGICALPLAN-LITERAL' }] },
  'environment-properties': { 'environment-properties': { 'spark.hadoop.fs.s3a.secret.key': 'CANARY-ENVPROP' } },
  spark_unknown: { output: { description: 'CANARY-SPARK-UNKNOWN' } },
  acme_rowSample: { rows: [['CANARY-VENDOR-ROW']] },
  schema: { fields: [{ name: 'customer_email', type: 'VARCHAR', description: 'CANARY-SCHEMA-FACET' }] },
  documentation: { description: 'CANARY-DOC-FACET' },
};

describe('shipped Marquez profile: mq-deny strips every facet', () => {
  it('compiles and lists facets, inputFacets and outputFacets', () => {
    expect(compiled.errors).toEqual([]);
    expect(mqDeny.entries).toEqual(expect.arrayContaining(['facets', 'inputFacets', 'outputFacets', 'args', 'latestRun', 'context', 'transformationDescription']));
  });

  it.each([
    [
      'dataset (with field-level facets)',
      {
        id: { namespace: 'ns', name: 'public.orders' },
        name: 'public.orders',
        namespace: 'ns',
        sourceName: 'db',
        fields: [{ name: 'customer_email', type: 'VARCHAR', tags: ['PII'], description: 'e-mail', facets: CUSTOM_FACETS }],
        tags: ['PII'],
        description: 'orders',
        facets: CUSTOM_FACETS,
      },
      {
        id: { namespace: 'ns', name: 'public.orders' },
        name: 'public.orders',
        namespace: 'ns',
        sourceName: 'db',
        fields: [{ name: 'customer_email', type: 'VARCHAR', tags: ['PII'], description: 'e-mail' }],
        tags: ['PII'],
        description: 'orders',
      },
      { facets: 2 },
    ],
    [
      'job',
      { name: 'etl', namespace: 'ns', inputs: [{ namespace: 'ns', name: 'a' }], outputs: [{ namespace: 'ns', name: 'b' }], location: 'https://git/x', facets: CUSTOM_FACETS },
      { name: 'etl', namespace: 'ns', inputs: [{ namespace: 'ns', name: 'a' }], outputs: [{ namespace: 'ns', name: 'b' }], location: 'https://git/x' },
      { facets: 1 },
    ],
    [
      'dataset version with input/output dataset versions (run facets inside)',
      { version: 'v1', name: 'public.orders', facets: CUSTOM_FACETS, createdByRun: { args: { a: 1 } }, inputDatasetVersions: [{ datasetVersionId: { name: 'a', version: 'v0' }, facets: CUSTOM_FACETS }] },
      { version: 'v1', name: 'public.orders', inputDatasetVersions: [{ datasetVersionId: { name: 'a', version: 'v0' } }] },
      { facets: 2, createdByRun: 1 },
    ],
    [
      'lineage graph: node data facets, edges kept',
      {
        graph: [
          { id: 'dataset:ns:a', type: 'DATASET', data: { name: 'a', fields: [{ name: 'x', type: 'INT' }], facets: CUSTOM_FACETS }, inEdges: [], outEdges: [{ origin: 'dataset:ns:a', destination: 'job:ns:etl' }] },
          { id: 'job:ns:etl', type: 'JOB', data: { name: 'etl', facets: CUSTOM_FACETS, latestRun: { facets: CUSTOM_FACETS } }, inEdges: [{ origin: 'dataset:ns:a', destination: 'job:ns:etl' }], outEdges: [] },
        ],
      },
      {
        graph: [
          { id: 'dataset:ns:a', type: 'DATASET', data: { name: 'a', fields: [{ name: 'x', type: 'INT' }] }, inEdges: [], outEdges: [{ origin: 'dataset:ns:a', destination: 'job:ns:etl' }] },
          { id: 'job:ns:etl', type: 'JOB', data: { name: 'etl' }, inEdges: [{ origin: 'dataset:ns:a', destination: 'job:ns:etl' }], outEdges: [] },
        ],
      },
      { facets: 2, latestRun: 1 },
    ],
    [
      'OpenLineage RunEvent shape: run, job, inputs (facets + inputFacets), outputs (facets + outputFacets)',
      {
        eventType: 'COMPLETE',
        eventTime: '2024-12-01T03:05:00Z',
        run: { runId: 'r1', facets: CUSTOM_FACETS },
        job: { namespace: 'ns', name: 'etl', facets: CUSTOM_FACETS },
        inputs: [{ namespace: 'ns', name: 'a', facets: CUSTOM_FACETS, inputFacets: { dataQualityMetrics: { rowCount: 'CANARY-INPUTFACETS' } } }],
        outputs: [{ namespace: 'ns', name: 'b', facets: CUSTOM_FACETS, outputFacets: { outputStatistics: { rowCount: 'CANARY-OUTPUTFACETS' } } }],
      },
      {
        eventType: 'COMPLETE',
        eventTime: '2024-12-01T03:05:00Z',
        run: { runId: 'r1' },
        job: { namespace: 'ns', name: 'etl' },
        inputs: [{ namespace: 'ns', name: 'a' }],
        outputs: [{ namespace: 'ns', name: 'b' }],
      },
      { facets: 4, inputFacets: 1, outputFacets: 1 },
    ],
    [
      'facets keys in other cases',
      { name: 'x', Facets: CUSTOM_FACETS, FACETS: CUSTOM_FACETS, inputs: [{ name: 'a', InputFacets: {}, OUTPUTFACETS: {} }] },
      { name: 'x', inputs: [{ name: 'a' }] },
      { facets: 2, inputFacets: 1, outputFacets: 1 },
    ],
  ])('%s', (_label, input, expected, counts) => {
    const { out, removed } = run(input);
    expect(out).toEqual(expected);
    expect(JSON.stringify(out)).not.toMatch(/CANARY/);
    expect(removed).toEqual(counts);
  });

  it('keeps the named entries that apply outside facets (run objects, context, column lineage)', () => {
    const { out, removed } = run({
      name: 'etl',
      context: { sql: 'CANARY-CONTEXT-SQL' },
      latestRuns: [{ args: { a: 'CANARY-RUNARG' } }],
      columnLineage: [{ name: 'c', inputFields: [{ field: 'a', transformationDescription: 'CANARY-TD', transformations: [{ type: 'DIRECT', description: 'CANARY-TRD' }] }] }],
    });
    expect(out).toEqual({ name: 'etl', columnLineage: [{ name: 'c', inputFields: [{ field: 'a', transformations: [{ type: 'DIRECT' }] }] }] });
    expect(removed).toEqual({ context: 1, latestRuns: 1, transformationDescription: 1, 'transformations.description': 1 });
  });
});
