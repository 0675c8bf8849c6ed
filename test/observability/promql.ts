// Shared by the alert-rule and dashboard tests: which series the gateway exports and which a PromQL expression reads.

import { Metrics } from '../../src/observability/metrics.js';

/** Every series name the gateway exports (histograms as _bucket, _sum and _count), plus Prometheus' own `up`. */
export async function exportedSeriesNames(): Promise<Set<string>> {
  const out = new Set(['up']);
  for (const m of await new Metrics({ version: '0', filterFields: [] }).registry.getMetricsAsJSON()) {
    if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) out.add(`${m.name}${suffix}`);
    else out.add(m.name);
  }
  return out;
}

/** Metric names in a PromQL expression (metagate_* and `up`). */
export function referencedMetrics(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\b(metagate_[a-zA-Z0-9_]+|up)\b(?!\s*\()/g)].map((m) => m[1]!))];
}
