// The admin listener: health, readiness, metrics and the authenticated, audited admin API. Never the vendor pipeline.

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { PROBLEM_CONTENT_TYPE } from '../errors.js';
import { RAW_SECURITY_HEADERS, answerAndClose, applySecurityHeaders } from '../pipeline/respond.js';
import type { Gateway } from '../gateway.js';
import { adminTokenSet, type AdminTokenSet } from './auth.js';
import { explain } from './explain.js';
import { isRecordableClaim } from '../policy/claims.js';
import type { AdminAuditRecord } from '../observability/audit.js';

export interface AdminAppOptions {
  tls?: https.ServerOptions;
  /** reload the configuration from its source; returns problems when the new one was refused */
  reload?: () => Promise<{ ok: true; hash: string } | { ok: false; problems: string[] }>;
}

/** Every audited admin action. Reads (status, lists, rate-limit state) change nothing and are not audited. */
export type AdminAction = 'authenticate' | 'revoke' | 'unrevoke' | 'suspend' | 'resume' | 'schedule_window' | 'cancel_window' | 'explain' | 'reload';

declare module 'fastify' {
  interface FastifyRequest {
    operator: string | null;
    /** set once the request's admin audit record is written: exactly one per action */
    adminAudited: boolean;
    /** set when the request's admin audit record could not be written (the trail is down): the answer says so */
    adminUnrecorded: boolean;
  }
  interface FastifyContextConfig {
    /** the action a route performs; a failure the handler did not record itself (bad JSON, store down) is recorded by the error handler */
    adminAction?: AdminAction;
  }
}

/**
 * Actions that lift a restriction (or may: a reload can change any policy). While the audit trail is down they are
 * refused: nobody may undo a revocation or a suspension without a trace. Actions that add a restriction still go
 * ahead — stopping a compromised identity must not wait for a disk — and their answers say they were not recorded.
 */
const LIFTING_ACTIONS: ReadonlySet<AdminAction> = new Set(['unrevoke', 'resume', 'cancel_window', 'reload']);
export const UNRECORDED_HEADER = 'metagate-audit';

const ID_RE = /^[\x21-\x7e]{1,256}$/;
const TEXT_RE = /^[^\u0000-\u001f\u007f]{1,500}$/;
/** a revocation TTL beyond ten years is a typo, not a plan; "until undone" is said by leaving ttlSec out */
const MAX_TTL_SEC = 10 * 365 * 86_400;

/**
 * Every refusal the admin listener gives, code → HTTP status. The code is stable (SOC tooling keys on it); the answer
 * is RFC 9457 problem details like the vendor's: `type` (urn:metagate:problem:admin:<code>), `title`, `status`,
 * `code`, `detail` and `request_id`. No answer repeats request input (path, body, content type).
 */
const ADMIN_PROBLEMS = {
  invalid_request: 400,
  invalid_json: 400,
  bad_url: 400,
  malformed_request: 400,
  admin_token_required: 401,
  admin_api_disabled: 401,
  not_found: 404,
  revocation_not_found: 404,
  suspension_not_found: 404,
  window_not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  body_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  headers_too_large: 431,
  internal_error: 500,
  reload_unavailable: 501,
  state_unavailable: 503,
  audit_unavailable: 503,
} as const satisfies Record<string, number>;

export type AdminProblemCode = keyof typeof ADMIN_PROBLEMS;

export interface AdminProblemBody {
  type: string;
  title: string;
  status: number;
  code: AdminProblemCode;
  detail: string;
  request_id: string;
}

export function adminProblem(code: AdminProblemCode, requestId: string, detail: string, status: number = ADMIN_PROBLEMS[code]): AdminProblemBody {
  return { type: `urn:metagate:problem:admin:${code}`, title: http.STATUS_CODES[status] ?? 'Error', status, code, detail, request_id: requestId };
}

function bad(request: FastifyRequest, reply: FastifyReply, code: AdminProblemCode, detail: string, status?: number): FastifyReply {
  const body = adminProblem(code, request.id, detail, status);
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

/** Fastify's own request errors (body parsing) → code and a fixed sentence; their messages are never passed on. */
const FRAMEWORK_ERRORS: Readonly<Record<string, { code: AdminProblemCode; detail: string }>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_json', detail: "Body is not valid JSON but content-type is set to 'application/json'" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_json', detail: "Body cannot be empty when content-type is set to 'application/json'" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type', detail: 'send the request body as application/json' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'body_too_large', detail: 'the request body is larger than the admin API accepts (64 KiB)' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'invalid_request', detail: 'the request body size did not match Content-Length' },
  FST_ERR_BAD_URL: { code: 'bad_url', detail: 'the request target is not a valid URL' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'uri_too_long', detail: 'a path segment is longer than the admin API accepts' },
};

const isId = (v: unknown): v is string => typeof v === 'string' && ID_RE.test(v);
/**
 * A subject, token id or organisation as the vendor pipeline accepts it from a token (isRecordableClaim: up to 256
 * characters, any letters and spaces, no control, format or line-separator character). Printable ASCII alone left
 * "jörg.müller@…", "anna de vries" or "Acme Corp" admitted by their tokens but impossible to revoke or suspend.
 */
const isClaimId = isRecordableClaim;
const isText = (v: unknown): v is string => typeof v === 'string' && TEXT_RE.test(v);
const optionalOrg = (v: unknown): boolean => v === undefined || isClaimId(v);
const bodyOf = (request: FastifyRequest): Record<string, unknown> => {
  const b = request.body;
  return b !== null && typeof b === 'object' && !Array.isArray(b) ? (b as Record<string, unknown>) : {};
};

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
    // ids are up to 256 characters (isClaimId), each up to four UTF-8 bytes written as %XX in a path
    routerOptions: { maxParamLength: 256 * 12 },
    // a TLS handshake is bounded as the vendor listener's is (vendor.headersTimeoutMs): node's 120 s default let a
    // connection that never completed one hold the shutdown, since it is in no connection list node can close
    serverFactory: (handler) => (opts.tls ? https.createServer({ handshakeTimeout: gw.runtime.config.vendor.headersTimeoutMs, ...opts.tls }, handler) : http.createServer(handler)),
    // a target the router cannot decode (or too long a segment): Fastify's own answer would repeat the path
    frameworkErrors: (err, request, reply) => {
      gw.logger.warn({ reqId: request.id, code: err.code }, 'admin request refused by the router');
      const known = FRAMEWORK_ERRORS[err.code];
      return known ? bad(request, reply, known.code, known.detail) : bad(request, reply, 'internal_error', 'internal error');
    },
    clientErrorHandler: (err, socket) => clientError(gw, err as NodeJS.ErrnoException, socket),
  });
  app.decorateRequest('operator', null);
  app.decorateRequest('adminAudited', false);
  app.decorateRequest('adminUnrecorded', false);

  // every route's method and path pattern, to tell "no such endpoint" (404) from "not with this method" (405, Allow)
  const routes: Array<{ method: string; pattern: RegExp }> = [];
  app.addHook('onRoute', (r) => {
    const pattern = new RegExp(`^${r.url.split('/').map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}$`);
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) routes.push({ method, pattern });
  });
  app.setNotFoundHandler((request, reply) => {
    const target = request.raw.url ?? '';
    const q = target.indexOf('?');
    let path = q === -1 ? target : target.slice(0, q);
    try {
      path = decodeURI(path);
    } catch {
      // matched as sent
    }
    const allow = [...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method))].sort();
    if (allow.length === 0) return bad(request, reply, 'not_found', 'there is no such endpoint on the admin listener');
    reply.header('allow', allow.join(', '));
    return bad(request, reply, 'method_not_allowed', `this endpoint accepts only ${allow.join(', ')}`);
  });

  const audit = (request: FastifyRequest, action: AdminAction, outcome: 'success' | 'failure', details: Record<string, unknown>) => {
    request.adminAudited = true;
    const rec: AdminAuditRecord = {
      '@timestamp': new Date().toISOString(),
      event: { kind: 'event', category: 'configuration', action: `admin_${action}`, outcome },
      user: { name: request.operator ?? 'anonymous' },
      source: { ip: request.ip },
      http: { request: { id: request.id, method: request.method } },
      metagate: { admin: details, config_hash: gw.runtime.hash },
    };
    // appended before the answer leaves: an action whose record the disk refused is answered as unrecorded
    const written = gw.audit.writeNow(rec);
    gw.metrics.countAudit(written);
    gw.metrics.adminActions.inc({ action, outcome });
    if (!written) {
      request.adminUnrecorded = true;
      // the log is the only trace left: what was done, by whom (ids and reasons; never a credential)
      gw.logger.error({ reqId: request.id, action: `admin_${action}`, outcome, operator: request.operator ?? 'anonymous', admin: details }, 'admin action could not be recorded in the audit trail');
    }
  };
  const liftRefused = (request: FastifyRequest, reply: FastifyReply, action: AdminAction) => {
    audit(request, action, 'failure', { error: 'audit_unavailable' });
    return bad(request, reply, 'audit_unavailable', 'the audit trail is down: actions that lift a restriction are refused until they can be recorded');
  };
  const refused = (request: FastifyRequest, reply: FastifyReply, action: AdminAction, detail: string, extra: Record<string, unknown> = {}) => {
    audit(request, action, 'failure', { error: 'invalid request', ...extra });
    return bad(request, reply, 'invalid_request', detail);
  };
  const act = (action: AdminAction) => ({ config: { adminAction: action } });

  // Set before the /admin plugin is registered: an encapsulated context copies its parent's error handler when it is
  // created, so a handler set afterwards would never see the API's errors (Fastify's default would answer instead).
  app.setErrorHandler((err: { statusCode?: number; message?: string; name?: string; code?: string }, request, reply) => {
    const unavailable = err.name === 'StateUnavailableError';
    const status = unavailable ? 503 : err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    gw.logger.warn({ reqId: request.id, status, name: err.name, code: err.code }, 'admin request failed');
    // an action that failed before its handler could record it (unparsable body, store down) is still recorded once
    const action = request.routeOptions.config?.adminAction;
    if (action && request.operator !== null && !request.adminAudited) {
      audit(request, action, 'failure', { error: unavailable ? 'state_unavailable' : status < 500 ? (err.code ?? 'bad request') : 'internal error' });
    }
    if (unavailable) return bad(request, reply, 'state_unavailable', 'the shared state store is unavailable');
    if (status >= 500) return bad(request, reply, 'internal_error', 'internal error');
    // a request error's message may quote the request (a content type, a path): a fixed sentence per known error
    const known = err.code !== undefined ? FRAMEWORK_ERRORS[err.code] : undefined;
    return known ? bad(request, reply, known.code, known.detail) : bad(request, reply, 'invalid_request', 'the request was refused', status);
  });

  // the vendor side's response headers on every admin answer too: status, lists and refusals name operators and
  // subjects, and must not be cached or sniffed
  app.addHook('onSend', (request, reply, payload, done) => {
    applySecurityHeaders(reply);
    // an action done while the audit trail is down is not in the trail: the operator is told so
    if (request.adminUnrecorded) reply.header(UNRECORDED_HEADER, 'unrecorded');
    done(null, payload);
  });

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
        audit(request, 'authenticate', 'failure', { path: request.routeOptions.url ?? null, attempted: request.routeOptions.config.adminAction ?? null });
        reply.header('www-authenticate', 'Bearer realm="metagate-admin"');
        return tokens.size === 0
          ? bad(request, reply, 'admin_api_disabled', 'the admin API is disabled: no admin tokens are configured')
          : bad(request, reply, 'admin_token_required', 'an admin bearer token is required');
      }
      request.operator = op;
      const action = request.routeOptions.config.adminAction;
      if (action !== undefined && LIFTING_ACTIONS.has(action) && !gw.audit.healthy) return liftRefused(request, reply, action);
      return undefined;
    });

    api.get('/status', async () => ({ config_hash: gw.runtime.hash, source: gw.runtime.source, readiness: gw.readiness(), keys: gw.keys.status(), store: gw.store.health(), audit: { healthy: gw.audit.healthy, written: gw.audit.written } }));

    api.post('/revocations', act('revoke'), async (request, reply) => {
      const b = bodyOf(request);
      const ttlOk = b.ttlSec === undefined || (Number.isSafeInteger(b.ttlSec) && (b.ttlSec as number) > 0 && (b.ttlSec as number) <= MAX_TTL_SEC);
      if ((b.kind !== 'subject' && b.kind !== 'token') || !isClaimId(b.id) || !isText(b.reason) || !ttlOk) {
        return refused(request, reply, 'revoke', `body: {"kind": "subject"|"token", "id": string, "reason": string, "ttlSec"?: integer 1..${MAX_TTL_SEC}}`);
      }
      const now = gw.now();
      const ttlSec = b.ttlSec as number | undefined;
      // a revocation replaces the one in force: with a ttlSec it can end a longer one, which lifts it
      if (!gw.audit.healthy) {
        const current = (await gw.store.listRevocations(now)).find((r) => r.kind === b.kind && r.id === b.id);
        if (current !== undefined && ttlSec !== undefined && (current.expiresAt === undefined || now + ttlSec * 1000 < current.expiresAt)) {
          return liftRefused(request, reply, 'revoke');
        }
      }
      await gw.store.revoke({ kind: b.kind, id: b.id, reason: b.reason, by: request.operator!, createdAt: now, ...(ttlSec ? { expiresAt: now + ttlSec * 1000 } : {}) });
      audit(request, 'revoke', 'success', { kind: b.kind, id: b.id, reason: b.reason, ttl_sec: ttlSec ?? null });
      return reply.code(201).send({ revoked: { kind: b.kind, id: b.id } });
    });
    api.delete('/revocations/:kind/:id', act('unrevoke'), async (request, reply) => {
      const { kind, id } = request.params as { kind: string; id: string };
      if ((kind !== 'subject' && kind !== 'token') || !isClaimId(id)) return refused(request, reply, 'unrevoke', 'kind must be subject or token, and id up to 256 characters without control or format characters', { kind: kind.slice(0, 64) });
      const existed = await gw.store.unrevoke(kind, id);
      audit(request, 'unrevoke', existed ? 'success' : 'failure', { kind, id, ...(existed ? {} : { error: 'no such revocation' }) });
      return existed ? reply.send({ unrevoked: { kind, id } }) : bad(request, reply, 'revocation_not_found', 'no such revocation');
    });
    api.get('/revocations', async () => ({ revocations: await gw.store.listRevocations(gw.now()) }));

    api.post('/suspend', act('suspend'), async (request, reply) => {
      const b = bodyOf(request);
      if (!isText(b.reason) || !optionalOrg(b.org)) return refused(request, reply, 'suspend', 'body: {"reason": string, "org"?: string}');
      const org = b.org as string | undefined;
      await gw.store.suspend({ reason: b.reason, by: request.operator!, createdAt: gw.now(), ...(org ? { org } : {}) });
      audit(request, 'suspend', 'success', { org: org ?? null, reason: b.reason });
      return reply.code(201).send({ suspended: { org: org ?? null } });
    });
    api.post('/resume', act('resume'), async (request, reply) => {
      const b = bodyOf(request);
      if (!optionalOrg(b.org)) return refused(request, reply, 'resume', 'body: {"org"?: string}');
      const org = b.org as string | undefined;
      const existed = await gw.store.resume(org);
      audit(request, 'resume', existed ? 'success' : 'failure', { org: org ?? null, ...(existed ? {} : { error: 'no such suspension' }) });
      return existed ? reply.send({ resumed: { org: org ?? null } }) : bad(request, reply, 'suspension_not_found', 'no such suspension');
    });
    api.get('/suspensions', async () => ({ suspensions: await gw.store.listSuspensions() }));

    api.post('/windows', act('schedule_window'), async (request, reply) => {
      const b = bodyOf(request);
      const start = typeof b.start === 'string' ? Date.parse(b.start) : NaN;
      const end = typeof b.end === 'string' ? Date.parse(b.end) : NaN;
      const usage = 'body: {"label": string, "reason": string, "start": ISO date-time, "end": ISO date-time after start and in the future, "org"?: string, "id"?: string}';
      if (!isText(b.label) || !isText(b.reason) || !Number.isFinite(start) || !Number.isFinite(end) || end <= start || !optionalOrg(b.org) || (b.id !== undefined && !isId(b.id))) {
        return refused(request, reply, 'schedule_window', usage);
      }
      // a window that has already ended would be stored, suspend nothing and be pruned: almost certainly a mistake
      if (end <= gw.now()) return refused(request, reply, 'schedule_window', `${usage}; this window has already ended`);
      const id = (b.id as string | undefined) ?? randomUUID();
      const org = b.org as string | undefined;
      // a window under an id in use replaces that window: it can move or end it, which lifts it
      if (!gw.audit.healthy && b.id !== undefined && (await gw.store.listWindows(gw.now())).some((w) => w.id === id)) {
        return liftRefused(request, reply, 'schedule_window');
      }
      await gw.store.scheduleWindow({ id, label: b.label, reason: b.reason, start, end, by: request.operator!, createdAt: gw.now(), ...(org ? { org } : {}) });
      audit(request, 'schedule_window', 'success', { id, label: b.label, reason: b.reason, start: new Date(start).toISOString(), end: new Date(end).toISOString(), org: org ?? null });
      return reply.code(201).send({ window: { id } });
    });
    api.delete('/windows/:id', act('cancel_window'), async (request, reply) => {
      const { id } = request.params as { id: string };
      if (!isId(id)) return refused(request, reply, 'cancel_window', 'id must be printable ASCII');
      const existed = await gw.store.cancelWindow(id);
      audit(request, 'cancel_window', existed ? 'success' : 'failure', { id, ...(existed ? {} : { error: 'no such window' }) });
      return existed ? reply.send({ cancelled: { id } }) : bad(request, reply, 'window_not_found', 'no such window');
    });
    api.get('/windows', async () => ({ windows: await gw.store.listWindows(gw.now()) }));

    api.get('/rate-limits/:subject', async (request, reply) => {
      const { subject } = request.params as { subject: string };
      if (!isClaimId(subject)) return bad(request, reply, 'invalid_request', 'subject must be up to 256 characters without control or format characters');
      return gw.store.rateLimitState(subject, gw.now());
    });

    api.post('/explain', act('explain'), async (request, reply) => {
      const result = await explain(gw, request.body);
      if ('error' in result) return refused(request, reply, 'explain', result.error, { error: result.error });
      // the target is the operator's input: bounded in the record (the canonical path is bounded by config anyway)
      audit(request, 'explain', 'success', { method: result.request.method, target: result.request.target.slice(0, 2048), decision: result.decision, reasons: result.reasons });
      return result;
    });

    api.post('/reload', act('reload'), async (request, reply) => {
      if (!opts.reload) {
        audit(request, 'reload', 'failure', { error: 'not available' });
        return bad(request, reply, 'reload_unavailable', 'reload is not available in this mode');
      }
      const r = await opts.reload();
      audit(request, 'reload', r.ok ? 'success' : 'failure', r.ok ? { config_hash: r.hash } : { problems: r.problems });
      return r.ok ? reply.send({ reloaded: true, config_hash: r.hash }) : reply.code(422).send({ reloaded: false, problems: r.problems });
    });
  }, { prefix: '/admin' });

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

/**
 * Malformed HTTP on the admin listener (no request to route): a problem answer instead of Fastify's plain JSON, then
 * the connection is closed. Nothing of the bytes received is repeated.
 */
function clientError(gw: Gateway, err: NodeJS.ErrnoException, socket: Socket): void {
  const code = err.code ?? '';
  if (code === 'ECONNRESET' || code === 'EPIPE' || socket.destroyed) {
    socket.destroy();
    return;
  }
  // a request on this connection is still being answered: a second response would interleave with it
  const inFlight = (socket as Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
  if (inFlight) {
    inFlight.shouldKeepAlive = false;
    if (inFlight.writableFinished) socket.destroy();
    return;
  }
  const [problem, detail]: [AdminProblemCode, string] =
    code === 'HPE_HEADER_OVERFLOW' ? ['headers_too_large', 'the request headers are too large']
    : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? ['request_timeout', 'the request took too long to arrive']
    : ['malformed_request', 'malformed HTTP request'];
  const requestId = randomUUID();
  gw.logger.debug({ reqId: requestId, code }, 'admin client error');
  const body = JSON.stringify(adminProblem(problem, requestId, detail));
  const status = ADMIN_PROBLEMS[problem];
  // every security header, as on every other admin answer (the onSend hook) and on the vendor listener's raw answers
  answerAndClose(socket, `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: ${PROBLEM_CONTENT_TYPE}\r\n${RAW_SECURITY_HEADERS}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
