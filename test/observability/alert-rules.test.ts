// The SOC alert rules: promtool accepts them and their unit tests pass, every alert carries what the SOC needs,
// is shown firing and quiet in the unit tests, and only references metrics the gateway exports.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { exportedSeriesNames, referencedMetrics } from './promql.js';

const PROMTOOL = '/usr/bin/promtool';
const DIR = new URL('../../docker/prometheus/', import.meta.url).pathname;

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface AlertTest {
  name: string;
  alert_rule_test: Array<{ eval_time: string; alertname: string; exp_alerts: unknown[] }>;
}

const rules = (parse(readFileSync(`${DIR}alerts.yml`, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);
const unitTests = (parse(readFileSync(`${DIR}alerts.test.yml`, 'utf8')) as { tests: AlertTest[] }).tests;


function promtool(...args: string[]) {
  if (!existsSync(PROMTOOL)) throw new Error(`${PROMTOOL} not found: install the Debian package "prometheus" (apt-get install prometheus)`);
  return spawnSync(PROMTOOL, args, { cwd: DIR, encoding: 'utf8', timeout: 30_000 });
}

describe('docker/prometheus alert rules', () => {
  test('promtool check rules accepts alerts.yml', () => {
    const r = promtool('check', 'rules', 'alerts.yml');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  test('promtool test rules passes alerts.test.yml', () => {
    const r = promtool('test', 'rules', 'alerts.test.yml');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
  });

  test('promtool check config accepts the compose prometheus.yml and it scrapes metagate:9090', () => {
    const r = promtool('check', 'config', 'prometheus.yml');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const cfg = parse(readFileSync(`${DIR}prometheus.yml`, 'utf8')) as { rule_files: string[]; scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }> };
    expect(cfg.rule_files).toEqual(['alerts.yml']);
    const job = cfg.scrape_configs.find((j) => j.job_name === 'metagate');
    expect(job?.static_configs.flatMap((s) => s.targets)).toEqual(['metagate:9090']);
  });

  test('covers what the SOC asked for, each with for, severity and instructions', () => {
    const byName = new Map(rules.map((r) => [r.alert, r]));
    const wanted: Array<[string, RegExp]> = [
      ['MetagateDenialSpike', /metagate_denials_total/],
      ['MetagateDenialRateHigh', /metagate_denials_total/],
      ['MetagateNationalityDenials', /reason="nationality_not_allowed"/],
      ['MetagateDataPathProbing', /reason=~"query_value_not_allowed\|method_not_allowed\|path_rejected"/],
      ['MetagateInvalidTokenBurst', /reason="token_invalid"/],
      ['MetagateJwksStale', /metagate_jwks_usable == 0/],
      ['MetagateJwksRefreshFailing', /metagate_jwks_refreshes_total\{result="failure"\}/],
      ['MetagateStoreUnavailable', /metagate_store_up == 0/],
      ['MetagateSharedStateLost', /metagate_store_state_lost_total/],
      ['MetagateKillSwitchEngaged', /metagate_kill_switch_active/],
      ['MetagateUpstreamErrorRatio', /metagate_upstream_errors_total/],
      ['MetagateAuditWriteFailures', /metagate_audit_write_failures_total/],
      ['MetagateConfigReloadFailed', /metagate_config_reloads_total/],
      ['MetagateTargetDown', /up\{job="metagate"\} == 0/],
    ];
    expect([...byName.keys()].sort()).toEqual(wanted.map(([n]) => n).sort());
    for (const [name, expr] of wanted) {
      const r = byName.get(name)!;
      expect(r.expr, name).toMatch(expr);
      expect(r.for, name).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning', 'info'], name).toContain(r.labels?.severity);
      expect(r.annotations?.summary?.length ?? 0, name).toBeGreaterThan(10);
      expect(r.annotations?.description?.length ?? 0, name).toBeGreaterThan(100);
    }
  });

  test('the unit tests show every alert firing, and every alert quiet at least once', () => {
    for (const r of rules) {
      const checks = unitTests.flatMap((t) => t.alert_rule_test).filter((c) => c.alertname === r.alert);
      expect(checks.some((c) => c.exp_alerts.length > 0), `${r.alert} never fires in alerts.test.yml`).toBe(true);
      expect(checks.some((c) => c.exp_alerts.length === 0), `${r.alert} is never shown quiet in alerts.test.yml`).toBe(true);
    }
    const healthy = unitTests.find((t) => /healthy gateway/.test(t.name))!;
    expect(healthy.alert_rule_test.map((c) => c.alertname).sort()).toEqual(rules.map((r) => r.alert).sort());
    expect(healthy.alert_rule_test.every((c) => c.exp_alerts.length === 0)).toBe(true);
  });

  test('every metric an alert uses exists in the registry', async () => {
    const exported = await exportedSeriesNames();
    for (const r of rules) {
      const used = referencedMetrics(r.expr);
      expect(used.length, r.alert).toBeGreaterThan(0);
      for (const m of used) expect(exported.has(m), `${r.alert} uses ${m}, which metagate does not export`).toBe(true);
    }
  });
});
