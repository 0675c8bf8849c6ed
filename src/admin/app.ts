// The admin listener: health, readiness, metrics and the authenticated, audited admin API. Never the vendor pipeline.

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Gateway } from '../gateway.js';
import { adminTokenSet, type AdminTokenSet } from './auth.js';
import { explain } from './explain.js';
import type { AdminAuditRecord } from '../observability/audit.js';

export interface AdminAppOptions {
  tls?: https.ServerOptions;
  /** reload the configuration from its source; returns problems when the new one was refused */
  reload?: () => Promise<{ ok: true; hash: string } | { ok: false; problems: string[] }>;
}

declare module 'fastify' {
  interface FastifyRequest {
    operator: string | null;
  }
}

const ID_RE = /^[\x21-\x7e]{1,256}$/;
const TEXT_RE = /^[^\u0000-\u001f\u007f]{1,500}$/;

function bad(reply: FastifyReply, status: number, detail: string): FastifyReply {
  return reply.code(status).type('application/problem+json').send({ title: http.STATUS_CODES[status], status, detail });
}

export async function buildAdminApp(gw: Gateway, opts: AdminAppOptions = {}): Promise<FastifyInstance<http.Server | https.Server>> {
  let tokens: AdminTokenSet = adminTokenSet(gw.runtime.secrets.adminTokens);
  let tokensFrom = gw.runtime;
  const app = Fastify({
    loggerInstance: gw.logger,
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    bodyLimit: 64 * 1024,
    exposeHeadRoutes: false,
    serverFactory: (handler) => (opts.tls ? https.createServer(opts.tls, handler) : http.createServer(handler)),
  });
  app.decorateRequest('operator', null);

  const audit = (request: FastifyRequest, action: string, outcome: 'success' | 'failure', details: Record<string, unknown>) => {
    const rec: AdminAuditRecord = {
      '@timestamp': new Date().toISOString(),
      event: { kind: 'event', category: 'configuration', action: `admin_${action}`, outcome },
      user: { name: request.operator ?? 'anonymous' },
      source: { ip: request.ip },
      http: { request: { id: request.id, method: request.method } },
      metagate: { admin: details, config_hash: gw.runtime.hash },
    };
    gw.audit.write(rec);
    gw.metrics.auditRecords.inc();
    gw.metrics.adminActions.inc({ action, outcome });
  };

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = gw.readiness();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not_ready', checks: r.checks });
  });
  app.get('/metrics', async (_req, reply) => {
    gw.readiness(); // refresh health gauges
    await refreshStateGauges(gw);
    return reply.type(gw.metrics.registry.contentType).send(await gw.metrics.registry.metrics());
  });

  await app.register(async (api) => {
    api.addHook('onRequest', async (request, reply) => {
      if (tokensFrom !== gw.runtime) {
        tokens = adminTokenSet(gw.runtime.secrets.adminTokens);
        tokensFrom = gw.runtime;
      }
      const op = tokens.identify(request.headers.authorization);
      if (!op) {
        audit(request, 'authenticate', 'failure', { path: request.routeOptions.url ?? null });
        return bad(reply, 401, tokens.size === 0 ? 'the admin API is disabled: no admin tokens are configured' : 'an admin bearer token is required');
      }
      request.operator = op;
      return undefined;
    });

    api.get('/status', async () => ({ config_hash: gw.runtime.hash, source: gw.runtime.source, readiness: gw.readiness(), keys: gw.keys.status(), store: gw.store.health(), audit: { healthy: gw.audit.healthy, written: gw.audit.written } }));

    api.post('/revocations', async (request, reply) => {
      const b = (request.body ?? {}) as Record<string, unknown>;
      if ((b.kind !== 'subject' && b.kind !== 'token') || typeof b.id !== 'string' || !ID_RE.test(b.id) || typeof b.reason !== 'string' || !TEXT_RE.test(b.reason) || (b.ttlSec !== undefined && (!Number.isInteger(b.ttlSec) || (b.ttlSec as number) <= 0))) {
        audit(request, 'revoke', 'failure', { error: 'invalid body' });
        return bad(reply, 400, 'body: {"kind": "subject"|"token", "id": string, "reason": string, "ttlSec"?: positive integer}');
      }
      const now = gw.now();
      await gw.store.revoke({ kind: b.kind, id: b.id, reason: b.reason, by: request.operator!, createdAt: now, ...(b.ttlSec ? { expiresAt: now + (b.ttlSec as number) * 1000 } : {}) });
      audit(request, 'revoke', 'success', { kind: b.kind, id: b.id, reason: b.reason, ttl_sec: b.ttlSec ?? null });
      return reply.code(201).send({ revoked: { kind: b.kind, id: b.id } });
    });
    api.delete('/revocations/:kind/:id', async (request, reply) => {
      const { kind, id } = request.params as { kind: string; id: string };
      if ((kind !== 'subject' && kind !== 'token') || !ID_RE.test(id)) return bad(reply, 400, 'kind must be subject or token');
      const existed = await gw.store.unrevoke(kind, id);
      audit(request, 'unrevoke', existed ? 'success' : 'failure', { kind, id });
      return existed ? reply.send({ unrevoked: { kind, id } }) : bad(reply, 404, 'no such revocation');
    });
    api.get('/revocations', async () => ({ revocations: await gw.store.listRevocations(gw.now()) }));

    api.post('/suspend', async (request, reply) => {
      const b = (request.body ?? {}) as Record<string, unknown>;
      if (typeof b.reason !== 'string' || !TEXT_RE.test(b.reason) || (b.org !== undefined && (typeof b.org !== 'string' || !ID_RE.test(b.org)))) {
        audit(request, 'suspend', 'failure', { error: 'invalid body' });
        return bad(reply, 400, 'body: {"reason": string, "org"?: string}');
      }
      await gw.store.suspend({ reason: b.reason, by: request.operator!, createdAt: gw.now(), ...(b.org ? { org: b.org as string } : {}) });
      audit(request, 'suspend', 'success', { org: b.org ?? null, reason: b.reason });
      return reply.code(201).send({ suspended: { org: b.org ?? null } });
    });
    api.post('/resume', async (request, reply) => {
      const b = (request.body ?? {}) as Record<string, unknown>;
      if (b.org !== undefined && (typeof b.org !== 'string' || !ID_RE.test(b.org))) return bad(reply, 400, 'body: {"org"?: string}');
      const existed = await gw.store.resume(b.org as string | undefined);
      audit(request, 'resume', existed ? 'success' : 'failure', { org: b.org ?? null });
      return existed ? reply.send({ resumed: { org: b.org ?? null } }) : bad(reply, 404, 'no such suspension');
    });
    api.get('/suspensions', async () => ({ suspensions: await gw.store.listSuspensions() }));

    api.post('/windows', async (request, reply) => {
      const b = (request.body ?? {}) as Record<string, unknown>;
      const start = typeof b.start === 'string' ? Date.parse(b.start) : NaN;
      const end = typeof b.end === 'string' ? Date.parse(b.end) : NaN;
      if (typeof b.label !== 'string' || !TEXT_RE.test(b.label) || typeof b.reason !== 'string' || !TEXT_RE.test(b.reason) || !Number.isFinite(start) || !Number.isFinite(end) || end <= start || (b.org !== undefined && (typeof b.org !== 'string' || !ID_RE.test(b.org)))) {
        audit(request, 'schedule_window', 'failure', { error: 'invalid body' });
        return bad(reply, 400, 'body: {"label": string, "reason": string, "start": ISO date-time, "end": ISO date-time after start, "org"?: string}');
      }
      const id = typeof b.id === 'string' && ID_RE.test(b.id) ? b.id : randomUUID();
      await gw.store.scheduleWindow({ id, label: b.label, reason: b.reason, start, end, by: request.operator!, createdAt: gw.now(), ...(b.org ? { org: b.org as string } : {}) });
      audit(request, 'schedule_window', 'success', { id, label: b.label, start: b.start, end: b.end, org: b.org ?? null });
      return reply.code(201).send({ window: { id } });
    });
    api.delete('/windows/:id', async (request, reply) => {
      const { id } = request.params as { id: string };
      const existed = await gw.store.cancelWindow(id);
      audit(request, 'cancel_window', existed ? 'success' : 'failure', { id });
      return existed ? reply.send({ cancelled: { id } }) : bad(reply, 404, 'no such window');
    });
    api.get('/windows', async () => ({ windows: await gw.store.listWindows(gw.now()) }));

    api.get('/rate-limits/:subject', async (request) => {
      const { subject } = request.params as { subject: string };
      return gw.store.rateLimitState(subject, gw.now());
    });

    api.post('/explain', async (request, reply) => {
      const result = await explain(gw, request.body);
      if ('error' in result) {
        audit(request, 'explain', 'failure', { error: result.error });
        return bad(reply, 400, result.error);
      }
      audit(request, 'explain', 'success', { method: result.request.method, target: result.request.target, decision: result.decision });
      return result;
    });

    api.post('/reload', async (request, reply) => {
      if (!opts.reload) return bad(reply, 501, 'reload is not available in this mode');
      const r = await opts.reload();
      audit(request, 'reload', r.ok ? 'success' : 'failure', r.ok ? { config_hash: r.hash } : { problems: r.problems });
      return r.ok ? reply.send({ reloaded: true, config_hash: r.hash }) : reply.code(422).send({ reloaded: false, problems: r.problems });
    });
  }, { prefix: '/admin' });

  app.setErrorHandler((err: { statusCode?: number; message?: string; name?: string }, request, reply) => {
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : err.name === 'StateUnavailableError' ? 503 : 500;
    gw.logger.warn({ reqId: request.id, status, name: err.name }, 'admin request failed');
    return bad(reply, status, status === 503 ? 'the shared state store is unavailable' : status < 500 ? (err.message ?? 'bad request') : 'internal error');
  });
  return app as unknown as FastifyInstance<http.Server | https.Server>;
}

async function refreshStateGauges(gw: Gateway): Promise<void> {
  try {
    const now = gw.now();
    const [revs, susp, wins] = await Promise.all([gw.store.listRevocations(now), gw.store.listSuspensions(), gw.store.listWindows(now)]);
    gw.metrics.revocations.set(revs.length);
    gw.metrics.killSwitch.set(susp.length > 0 ? 1 : 0);
    gw.metrics.windowsActive.set(wins.filter((w) => w.start <= now && now < w.end).length);
  } catch {
    // the store being down is already visible as metagate_store_up 0
  }
}
