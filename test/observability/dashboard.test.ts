// The Grafana dashboard: a valid JSON model on the ${DS_PROMETHEUS} data source variable, the panels the SOC asked
// for, PromQL that promtool accepts, and only metrics the gateway exports.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { exportedSeriesNames, referencedMetrics } from './promql.js';

const FILE = new URL('../../docker/grafana/metagate-dashboard.json', import.meta.url).pathname;
const DS = '${DS_PROMETHEUS}';

interface Target {
  refId: string;
  expr: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown }> };
}

const dash = JSON.parse(readFileSync(FILE, 'utf8')) as Dashboard;
const queryPanels = dash.panels.filter((p) => p.type !== 'row');
const exprs = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ref: t.refId, expr: t.expr })));


describe('docker/grafana/metagate-dashboard.json', () => {
  test('is a Grafana dashboard model whose panels all query ${DS_PROMETHEUS}', () => {
    expect(dash.title).toMatch(/metagate/);
    expect(dash.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dash.schemaVersion).toBeGreaterThanOrEqual(36);
    const dsVar = dash.templating.list.find((v) => v.name === 'DS_PROMETHEUS');
    expect(dsVar).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const ids = dash.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dash.panels) {
      expect(p.gridPos.w, p.title).toBeGreaterThan(0);
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    }
    expect(queryPanels.length).toBeGreaterThanOrEqual(15);
    for (const p of queryPanels) {
      expect(['timeseries', 'stat', 'table'], p.title).toContain(p.type);
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: DS });
      expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) expect(t.datasource, `${p.title} ${t.refId}`).toEqual({ type: 'prometheus', uid: DS });
    }
  });

  test('every panel expression references only metrics the registry exports', async () => {
    const exported = await exportedSeriesNames();
    for (const { panel, ref, expr } of exprs) {
      const used = referencedMetrics(expr);
      expect(used.length, `${panel} ${ref}`).toBeGreaterThan(0);
      for (const m of used) expect(exported.has(m), `${panel} ${ref} uses ${m}, which metagate does not export`).toBe(true);
    }
  });

  test('has the panels the SOC asked for', () => {
    const all = exprs.map((e) => e.expr).join('\n');
    const has = (re: RegExp) => expect(all, String(re)).toMatch(re);
    has(/sum by \(decision\) \(rate\(metagate_requests_total/); // traffic by decision
    has(/sum by \(reason\) \(rate\(metagate_denials_total/); // decisions by reason
    has(/histogram_quantile\(0\.5, sum by \(le, decision\) \(rate\(metagate_request_duration_seconds_bucket/);
    has(/histogram_quantile\(0\.99, sum by \(le, decision\) \(rate\(metagate_request_duration_seconds_bucket/);
    has(/histogram_quantile\(0\.99, sum by \(le, category\) \(rate\(metagate_upstream_duration_seconds_bucket/);
    has(/sum by \(kind\) \(rate\(metagate_upstream_errors_total/);
    has(/metagate_store_up/);
    has(/metagate_jwks_usable/);
    has(/metagate_audit_healthy/);
    has(/metagate_kill_switch_active/);
    has(/sum by \(field\) \(rate\(metagate_filter_fields_removed_total/);
  });

  test('promtool accepts every expression (with Grafana variables filled in)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'metagate-dash-'));
    try {
      const rules = exprs.map((e, i) => ({ record: `dashboard:expr_${i}`, expr: e.expr.replaceAll('$__rate_interval', '5m').replaceAll('$instance', '.*') }));
      writeFileSync(join(dir, 'dashboard-rules.yml'), stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = spawnSync('/usr/bin/promtool', ['check', 'rules', join(dir, 'dashboard-rules.yml')], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
