// A real Prometheus scrapes the admin listener every second, sees the denials the gateway counted, loads the SOC
// alert rules and fires one of them.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { request } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';

const PROMETHEUS = '/usr/bin/prometheus';
const ALERTS = new URL('../../docker/prometheus/alerts.yml', import.meta.url).pathname;
const TABLE = `/api/v1/tables/${DEMO_TABLE_ID}`;


interface PromVector {
  status: string;
  data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

describe('Prometheus scraping the admin listener', () => {
  let h: Harness;
  let dir: string;
  let prom: ChildProcess | null = null;
  let promUrl = '';
  let promLog = '';

  const query = async (q: string): Promise<PromVector> => {
    const r = await request(promUrl, `/api/v1/query?query=${encodeURIComponent(q)}`);
    expect(r.status, r.body).toBe(200);
    return r.json<PromVector>();
  };
  /** Poll until `check` returns a value, or fail with what Prometheus last said and its log. */
  const until = async <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> => {
    const end = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const v = await check();
        if (v !== undefined) return v;
      } catch (err) {
        last = err;
      }
      if (Date.now() > end) throw new Error(`Prometheus: ${what} not reached in ${timeoutMs} ms (${String(last ?? '')})\n${promLog.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  beforeAll(async () => {
    // CI installs the Debian package; a missing binary is a broken environment, not a reason to skip
    if (!existsSync(PROMETHEUS)) throw new Error(`${PROMETHEUS} not found: install the Debian package "prometheus" (apt-get install prometheus)`);
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), 'metagate-prom-'));
    const target = new URL(h.adminUrl).host;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${JSON.stringify(ALERTS)}`,
        'scrape_configs:',
        '  - job_name: metagate',
        '    static_configs:',
        `      - targets: [${JSON.stringify(target)}]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prom = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    prom.stdout!.on('data', (c: Buffer) => (promLog += c.toString()));
    prom.stderr!.on('data', (c: Buffer) => (promLog += c.toString()));
    prom.once('exit', (code) => (promLog += `\n[prometheus exited with ${code}]`));
    await until('ready', async () => ((await request(promUrl, '/-/ready')).status === 200 ? true : undefined));
  }, 60_000);

  afterAll(async () => {
    if (prom && prom.exitCode === null) {
      const p = prom;
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('sees exactly the denials the gateway made, and fires the nationality alert', async () => {
    // wait for the pre-created zero series to be scraped, so the burst below is an increase from 0
    await until('first scrape', async () => {
      const r = await query('metagate_denials_total{job="metagate",reason="nationality_not_allowed"}');
      return r.data.result.length === 1 && r.data.result[0]!.value[1] === '0' ? true : undefined;
    });
    expect((await query('up{job="metagate"}')).data.result[0]!.value[1]).toBe('1');

    const foreign = `Bearer ${await h.token('foreign')}`;
    const geheim = `Bearer ${await h.token('geheim')}`;
    for (let i = 0; i < 5; i++) expect((await request(h.vendorUrl, TABLE, { headers: { authorization: foreign } })).status).toBe(403);
    for (let i = 0; i < 3; i++) expect((await request(h.vendorUrl, TABLE)).status).toBe(401);
    for (let i = 0; i < 2; i++) expect((await request(h.vendorUrl, `${TABLE}/sampleData`, { headers: { authorization: geheim } })).status).toBe(404);
    for (let i = 0; i < 2; i++) expect((await request(h.vendorUrl, TABLE, { headers: { authorization: geheim } })).status).toBe(200);

    const denied = await until('sum of denials = 10', async () => {
      const r = await query('sum(metagate_requests_total{decision="deny"})');
      return r.data.result[0]?.value[1] === '10' ? r : undefined;
    });
    expect(denied.status).toBe('success');
    const byReason = await query('sum by (reason) (metagate_requests_total{decision="deny"})');
    expect(Object.fromEntries(byReason.data.result.map((s) => [s.metric.reason, s.value[1]]))).toEqual({ nationality_not_allowed: '5', token_missing: '3', route_not_allowed: '2' });
    expect((await query('sum(metagate_requests_total{decision="allow"})')).data.result[0]!.value[1]).toBe('2');

    // the real Prometheus loaded every rule and evaluates them without error
    const rules = (await request(promUrl, '/api/v1/rules')).json<{ data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> } }>();
    const all = rules.data.groups.flatMap((g) => g.rules);
    expect(all.length).toBe(14);
    await until('every rule evaluated', async () => {
      const r = (await request(promUrl, '/api/v1/rules')).json<typeof rules>();
      const rs = r.data.groups.flatMap((g) => g.rules);
      return rs.every((x) => x.health === 'ok') ? true : undefined;
    });
    const alerts = await until('MetagateNationalityDenials firing', async () => {
      const r = (await request(promUrl, '/api/v1/alerts')).json<{ data: { alerts: Array<{ labels: Record<string, string>; state: string; annotations: Record<string, string> }> } }>();
      return r.data.alerts.some((a) => a.labels.alertname === 'MetagateNationalityDenials' && a.state === 'firing') ? r.data.alerts : undefined;
    });
    const fired = alerts.find((a) => a.labels.alertname === 'MetagateNationalityDenials')!;
    expect(fired.labels.severity).toBe('critical');
    expect(fired.annotations.description).toContain('revoke');
    // nothing else is wrong with this gateway
    expect(alerts.filter((a) => a.state === 'firing').map((a) => a.labels.alertname)).toEqual(['MetagateNationalityDenials']);
  });
});
