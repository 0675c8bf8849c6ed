// send(): every answer's audit record is written before the answer leaves; an allowed answer whose record cannot be
// handed to a healthy trail is withheld (503 audit_unavailable) when audit.failClosed, and never sent as it was.

import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, test } from 'vitest';
import type { Runtime } from '../../src/config/load.js';
import type { AuditRecord, AuditTrail } from '../../src/observability/audit.js';
import { Metrics } from '../../src/observability/metrics.js';
import { newContext } from '../../src/pipeline/context.js';
import { refuse, send } from '../../src/pipeline/respond.js';

function fakeTrail(accepts: boolean): { trail: AuditTrail; records: AuditRecord[] } {
  const records: AuditRecord[] = [];
  const trail = { write: (r: AuditRecord) => (records.push(r), accepts) } as unknown as AuditTrail;
  return { trail, records };
}

const runtime = (failClosed: boolean) => ({ hash: 'cafe', config: { audit: { failClosed } } }) as unknown as Runtime;

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function answer(opts: { accepts: boolean; failClosed: boolean; decision: 'allow' | 'deny'; refuseIt?: boolean }) {
  const { trail, records } = fakeTrail(opts.accepts);
  app = Fastify();
  app.decorateRequest('mg', null as never);
  app.get('/x', (request, reply) => {
    request.mg = newContext(runtime(opts.failClosed), { audit: trail, metrics: new Metrics({ version: 't', filterFields: [], defaultMetrics: false }) });
    request.mg.decision = opts.decision;
    if (opts.refuseIt) return refuse(request, reply, 'clearance_insufficient');
    reply.header('content-language', 'nl').header('ratelimit-remaining', '9');
    return send(request, reply.code(200).type('application/json'), '{"name":"t"}');
  });
  const res = await app.inject({ method: 'GET', url: '/x' });
  return { res, records };
}

describe('send: write-ahead audit', () => {
  test('an allowed answer whose record was handed over goes out as it is, after its record', async () => {
    const { res, records } = await answer({ accepts: true, failClosed: true, decision: 'allow' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('{"name":"t"}');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ metagate: { decision: 'allow', reasons: [] }, http: { response: { status_code: 200 } } });
  });

  test('an allowed answer whose record cannot be written is withheld: 503 audit_unavailable, no upstream headers', async () => {
    const { res, records } = await answer({ accepts: false, failClosed: true, decision: 'allow' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'audit_unavailable' });
    expect(res.body).not.toContain('"name"');
    expect(res.headers['content-language']).toBeUndefined();
    expect(res.headers['ratelimit-remaining']).toBeUndefined();
    expect(records).toHaveLength(1);
  });

  test('with audit.failClosed off the answer goes out (the record is counted as dropped by the trail)', async () => {
    const { res } = await answer({ accepts: false, failClosed: false, decision: 'allow' });
    expect(res.statusCode).toBe(200);
  });

  test('a refusal is sent whether or not its record could be written, and recorded once', async () => {
    for (const accepts of [true, false]) {
      const { res, records } = await answer({ accepts, failClosed: true, decision: 'deny', refuseIt: true });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ code: 'clearance_insufficient' });
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ metagate: { decision: 'deny', reasons: ['clearance_insufficient'] } });
      await app?.close();
      app = undefined;
    }
  });
});
