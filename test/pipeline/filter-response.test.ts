// The response stage answers the upstream answers of one turn together, at the end of that turn (createResponseFilter):
// none is sent from the forwarder's callback, all are sent in the order they arrived, and one that fails to be
// answered does not stop the others. An exchange that failed is refused from the callback itself.

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { afterEach, describe, expect, test } from 'vitest';
import type { Runtime } from '../../src/config/load.js';
import type { AuditRecord, AuditTrail, RequestAuditRecord } from '../../src/observability/audit.js';
import { Metrics } from '../../src/observability/metrics.js';
import { newContext } from '../../src/pipeline/context.js';
import { createResponseFilter } from '../../src/pipeline/filter-response.js';
import type { ForwardResult } from '../../src/pipeline/forward.js';

const endOfTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/**
 * A route that hands the response stage the upstream result named by its path (`/:k`) for an allowed request and
 * never sends on its own; it notes whether the answer had been sent when the stage's callback returned.
 */
function routeTo(results: Record<string, ForwardResult>) {
  const records: AuditRecord[] = [];
  const trail = { write: (r: AuditRecord) => (records.push(r), true) } as unknown as AuditTrail;
  const metrics = new Metrics({ version: 't', filterFields: [], defaultMetrics: false });
  const runtime = { hash: 'cafe', config: { audit: { failClosed: true }, upstream: { maxResponseBytes: 1000, responseTimeoutMs: 50 }, vendor: { shutdownGraceMs: 1 } } } as unknown as Runtime;
  const filter = createResponseFilter({ metrics });
  const sentInCallback: boolean[] = [];
  const server = Fastify();
  server.decorateRequest('mg', null as never);
  server.get('/:k', (request, reply) => {
    request.mg = newContext(runtime, { audit: trail, metrics });
    request.mg.decision = 'allow';
    filter(request, reply, results[(request.params as { k: string }).k]!);
    sentInCallback.push(reply.sent);
    return reply;
  });
  app = server;
  return { server, sentInCallback, reasons: () => records.map((r) => (r as RequestAuditRecord).metagate.reasons) };
}

describe('createResponseFilter: the answers of a turn', () => {
  test('are answered at the end of the turn, not from the callback, one record each', async () => {
    // answers the gateway does not pass on, so no rule or filter is needed
    const answer = (statusCode: number): ForwardResult => ({ ok: true, answer: { statusCode, headers: {}, body: null } });
    const { server, sentInCallback, reasons } = routeTo({ n: answer(404), e: answer(500), j: answer(200) });
    const [n, e, j] = await Promise.all([server.inject({ url: '/n' }), server.inject({ url: '/e' }), server.inject({ url: '/j' })]);
    expect(sentInCallback).toEqual([false, false, false]);
    expect([n.statusCode, e.statusCode, j.statusCode]).toEqual([404, 502, 502]);
    expect([e, j].map((r) => JSON.parse(r.body).code)).toEqual(['upstream_error', 'response_rejected']);
    // one record each, each with the reasons of its own answer
    expect(reasons()).toEqual(expect.arrayContaining([[], ['upstream_error'], ['response_rejected']]));
    expect(reasons()).toHaveLength(3);
  });

  test('an exchange that failed is refused from the callback: its record says what cut it', async () => {
    const { server, sentInCallback, reasons } = routeTo({ s: { ok: false, kind: 'shutdown' }, t: { ok: false, kind: 'timeout' } });
    const [s, t] = [await server.inject({ url: '/s' }), await server.inject({ url: '/t' })];
    expect(sentInCallback).toEqual([true, true]);
    expect([s.statusCode, t.statusCode]).toEqual([503, 504]);
    expect(reasons()).toEqual([['shutting_down'], ['upstream_timeout']]);
  });

  test('an answer that cannot be answered at all closes its connection; the others of the turn still go out, in the order they arrived', async () => {
    const filter = createResponseFilter({});
    const closed: number[] = [];
    // no request context: filtering throws, and so does the refusal that follows; the connection is closed instead
    const broken = (i: number) => ({ request: {} as FastifyRequest, reply: { sent: false, raw: { destroy: () => void closed.push(i) } } as unknown as FastifyReply });
    const answers = [broken(0), broken(1), broken(2)];
    for (const a of answers) filter(a.request, a.reply, { ok: true, answer: { statusCode: 200, headers: {}, body: Buffer.from('{}') } });
    expect(closed).toEqual([]);
    await endOfTurn();
    expect(closed).toEqual([0, 1, 2]);
    // and so does an answer of a later turn
    filter(answers[0]!.request, answers[0]!.reply, { ok: true, answer: { statusCode: 404, headers: {}, body: null } });
    await endOfTurn();
    expect(closed).toEqual([0, 1, 2, 0]);
  });
});
