// `npm start` (metagate demo): the printed commands give the outcomes the README promises.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoBanner, startDemo, type RunningDemo } from '../../src/demo/demo.js';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';

let demo: RunningDemo;
const token = async (persona: string) => (await fetch(`${demo.issuerUrl}/token/${persona}`)).text();
const get = async (path: string, persona?: string) => {
  const r = await fetch(`${demo.gateway.vendorUrl}${path}`, { headers: persona ? { authorization: `Bearer ${await token(persona)}` } : {} });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

beforeAll(async () => {
  demo = await startDemo({ vendorPort: 0, adminPort: 0 });
});
afterAll(async () => {
  await demo?.close();
});

describe('the embedded demo', () => {
  it('binds loopback only and says it is a demo', () => {
    expect(new URL(demo.gateway.vendorUrl).hostname).toBe('127.0.0.1');
    expect(new URL(demo.gateway.adminUrl).hostname).toBe('127.0.0.1');
    const banner = demoBanner(demo);
    expect(banner).toContain('DEMO MODE');
    expect(banner).toContain(demo.gateway.vendorUrl);
  });

  it('gives the outcomes of the printed commands', async () => {
    const ok = await get(`/api/v1/tables/${DEMO_TABLE_ID}`, 'geheim');
    expect(ok.status).toBe(200);
    expect(ok.body.id).toBe(DEMO_TABLE_ID);
    expect(JSON.stringify(ok.body)).not.toMatch(/sampleData|CANARY/);
    expect((await get(`/api/v1/lineage/table/${DEMO_TABLE_ID}`, 'confidentieel')).body.code).toBe('clearance_insufficient');
    expect((await get(`/api/v1/tables/${DEMO_TABLE_ID}`, 'foreign')).body.code).toBe('nationality_not_allowed');
    expect((await get(`/api/v1/tables/${DEMO_TABLE_ID}`, 'expired')).body.code).toBe('clearance_expired');
    const data = await get(`/api/v1/tables/${DEMO_TABLE_ID}/sampleData`, 'geheim');
    expect([data.status, data.body.code]).toEqual([404, 'route_not_allowed']);
    const none = await get(`/api/v1/tables/${DEMO_TABLE_ID}`);
    expect([none.status, none.body.code]).toEqual([401, 'token_missing']);
    const who = await get('/_metagate/whoami', 'confidentieel');
    expect(who.body).toMatchObject({ nationality: 'NL', clearance: 'STG_CONFIDENTIEEL', categories: { lineage: { allowed: false } } });
  });

  it('records every one of those decisions in its audit file', async () => {
    await demo.gateway.gateway.audit.flush();
    const records = readFileSync(demo.auditFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { metagate: { decision: string } });
    expect(records.length).toBe(7);
    expect(records.filter((r) => r.metagate.decision === 'allow')).toHaveLength(2);
  });
});

describe('metagate demo', () => {
  it('cannot be combined with a production configuration', async () => {
    const { execFile } = await import('node:child_process');
    const res = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'demo', '--config', 'config/metagate.example.yaml'], (err, _out, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stderr }));
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('cannot be combined with --config');
  });
});
