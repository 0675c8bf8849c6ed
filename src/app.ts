// buildVendorApp / buildAdminApp: register the pipeline and the admin surface; never listens (tests use it directly).

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import httpProxy from '@fastify/http-proxy';
import type { Gateway } from './gateway.js';
import { newContext } from './pipeline/context.js';
import { canonicalise } from './pipeline/canonicalise.js';
import { EXPECTATION_REFUSED, screenMessage } from './pipeline/screen.js';
import { CREDENTIAL_QUERY_KEYS, checkQuery } from './pipeline/match.js';
import { countAuthorization, otherCredential, type AuthResult } from './pipeline/authenticate.js';
import { authorize, type AuthorizeResult } from './pipeline/authorize.js';
import { upstreamHeaders } from './pipeline/rewrite.js';
import { createResponseFilter, wantBody } from './pipeline/filter-response.js';
import { recordDecision, buildRecord } from './pipeline/audit.js';
import { BEHIND_REFUSAL, HUNG_UP, LINGER_MS, RAW_SECURITY_HEADERS, answerAndClose, closeAfterAnswer, closingDetail, refuse } from './pipeline/respond.js';
import { WHOAMI_PATH, whoamiHandler } from './pipeline/whoami.js';
import { PROBLEM_CONTENT_TYPE, problemBody } from './errors.js';
import type { DenyReason } from './policy/reasons.js';
import { certificateBindingProblem } from './pipeline/certificate-binding.js';
import { integerText } from './observability/number-text.js';

export interface VendorServerOptions {
  /** TLS material already read from the files named in config */
  tls?: https.ServerOptions;
}

/** The vendor listener: the pipeline and nothing else (no metrics, no admin, no health detail). */
export async function buildVendorApp(gw: Gateway, opts: VendorServerOptions = {}): Promise<FastifyInstance<http.Server | https.Server>> {
  const v = gw.runtime.config.vendor;
  const serverOptions: http.ServerOptions = {
    maxHeaderSize: v.maxHeaderBytes,
    headersTimeout: v.headersTimeoutMs,
    requestTimeout: v.requestTimeoutMs,
    keepAliveTimeout: v.keepAliveTimeoutMs,
    insecureHTTPParser: false,
    joinDuplicateHeaders: false,
    // node would answer a Host-less HTTP/1.1 request itself, before any hook, leaving no audit record; the screen
    // stage (screen.ts) refuses it instead, with a record
    requireHostHeader: false,
    // node enforces headersTimeout and requestTimeout only when this timer fires (default every 30 s): without it a
    // slow-loris or idle connection outlives vendor.headersTimeoutMs by up to half a minute
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(v.headersTimeoutMs / 2))),
  };
  const app = Fastify({
    loggerInstance: gw.logger,
    logController: new LogController({ disableRequestLogging: true }),
    // no per-request child logger: nothing logs through request.log, and a pino child per request costs CPU
    childLoggerFactory: (logger) => logger,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: false,
    exposeHeadRoutes: false,
    bodyLimit: 1024,
    // a request that arrives on a kept-alive connection while the gateway closes goes through the pipeline, which
    // refuses it (503 shutting_down, problem+json, recorded); Fastify's own 503 would answer before any hook and
    // leave no audit record
    return503OnClosing: false,
    routerOptions: { maxParamLength: v.maxPathLength, ignoreDuplicateSlashes: false, ignoreTrailingSlash: false, caseSensitive: true },
    serverFactory: (handler) => {
      // a TLS handshake is part of a request arriving: bounded by vendor.headersTimeoutMs like the head (node's default is
      // 120 s, and a connection still in its handshake is in no connection list, so it would also hold the drain)
      const server = opts.tls ? https.createServer({ ...serverOptions, handshakeTimeout: v.headersTimeoutMs, ...opts.tls }, handler) : http.createServer(serverOptions, handler);
      // TLS sockets are not half-open: a client's FIN would end the TLS stream before the answer. They are made so once
      // the handshake is done (a server-wide allowHalfOpen would also keep sockets whose handshake failed open)
      if (opts.tls) server.on('secureConnection', (socket: Socket) => void (socket.allowHalfOpen = true));
      server.keepAliveTimeout = v.keepAliveTimeoutMs;
      server.headersTimeout = v.headersTimeoutMs;
      server.requestTimeout = v.requestTimeoutMs;
      // node keeps only the first 2000 headers by default but frames the message with all of them: a second Host,
      // Authorization or Content-Length hidden behind 2000 others would pass the screen unseen. All headers are kept;
      // vendor.maxHeaderBytes bounds how many there can be.
      server.maxHeadersCount = 0;
      // a client that half-closes after its request (FIN, e.g. `nc -N`) still gets its answer; by default node would
      // abort the request in flight and the client would get nothing
      (server as { httpAllowHalfOpen?: boolean }).httpAllowHalfOpen = true;
      // node answers an expectation other than 100-continue with its own 417 before any hook runs (no record, no
      // problem+json); with this listener the request goes through the pipeline, whose screen refuses it
      server.on('checkExpectation', handler);
      // without a 'connect' listener node destroys CONNECT sockets silently: answer and audit them like any refusal
      server.on('connect', (req: http.IncomingMessage, socket: Socket) => connectRefused(gw, req, socket));
      // the open connections, for the drain (timeOutArrivingRequests): node offers no list of them
      const sockets = new Set<Socket>();
      server.on(opts.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      openSockets.set(server, sockets);
      return server;
    },
    frameworkErrors: (err, request, reply) => {
      // a target the router cannot decode (FST_ERR_BAD_URL) never reaches the onRequest hook: the request gets the same
      // checks before its target is read as any other (the drain, the audit trail, a connection that is closing,
      // pipelining, the message screen: a body or a second Host refuses it and closes the connection)
      // the connection's request timer fired for this request while earlier answers were going out: it is recorded and
      // answered 408 (clientError), and is not answered again (as in the onRequest hook)
      if (timedOutBehind.has(request.raw.socket)) return;
      if (admit(gw, request, reply)) refuse(request, reply, 'path_rejected', err.code === 'FST_ERR_BAD_URL' ? 'the request target is not a valid URL' : 'the request was refused');
      // framework errors skip the route's hooks, so the record is written here
      recordDecision(gw, request, reply);
    },
    clientErrorHandler: (err, socket) => clientError(gw, err as NodeJS.ErrnoException & { code?: string }, socket),
  });
  app.decorateRequest('mg', null as never);

  const filter = createResponseFilter({ metrics: gw.metrics, unread: gw.unread });

  // Stages 1–4 run in one hook, in order; the first refusal ends the request. The hook finishes without waiting when
  // it can (a token verified before, a store in this process) and waits only for a signature check or for Redis.
  app.addHook('onRequest', (request, reply, done) => {
    // the connection's request timer fired for this request while earlier answers were still going out: it is
    // recorded and answered (408) after them (clientError), and is not decided, forwarded or answered again — the
    // hook chain stops here and the connection closes after the 408
    if (timedOutBehind.has(request.raw.socket)) return;
    let waiting: true | undefined;
    try {
      waiting = decide(gw, request, reply, done);
    } catch (err) {
      done(err as Error);
      return;
    }
    // waiting for a signature check or for Redis: decide calls done when decided
    if (waiting) return;
    // An allowed request decided here, without waiting, is forwarded at the end of this turn of the event loop, with
    // the others that arrived in it, as those that waited for Redis are: measured, that shortens the tail (p99 1.30× →
    // 1.00× the bare proxy's in an A/B) and costs less CPU than forwarding each from the callback that parsed it.
    else if (request.mg.decision === 'allow') setImmediate(done);
    else done();
  });

  // Every answer's record is written as it is sent (send() in respond.ts: write-ahead, an allowed answer whose record
  // cannot be written is withheld). onResponse is the fallback for an answer that left another way.
  app.addHook('onResponse', (request, reply, done) => {
    recordDecision(gw, request, reply);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    if (request.mg && !request.mg.audited) {
      request.mg.detail ??= HUNG_UP;
      recordDecision(gw, request, null, 499);
    }
    done();
  });

  app.setNotFoundHandler((request, reply) => {
    // only reached for methods the proxy route does not serve, after the pipeline already refused or allowed
    if (reply.sent) return;
    refuse(request, reply, request.mg?.rule ? 'method_not_allowed' : 'route_not_allowed');
  });

  app.setErrorHandler((err: { statusCode?: number; code?: string }, request, reply) => {
    request.mg ??= newContext(gw.runtime, gw);
    gw.logger.warn({ err: { code: err.code, statusCode: err.statusCode }, reqId: request.id }, 'vendor request failed');
    if (reply.sent) return;
    if ((err.statusCode ?? 500) < 500) refuse(request, reply, 'request_rejected');
    else refuse(request, reply, 'internal_error');
  });

  app.get(WHOAMI_PATH, (request, reply) => whoamiHandler(request, reply));

  // 5–7. rewrite, forward, filter. @fastify/http-proxy registers the GET routes; the forward stage runs in its
  // `preHandler` hook and answers there, so the route's handler never runs: the handler wrapper would parse the raw
  // URL three times over (`new URL()` in resolveDestination, ≈ 6 % of a request's CPU) only to check a target the
  // gateway has already refused or canonicalised — and the gateway forwards the canonical path, not that target. The
  // forward stage sends exactly the decided path and query on undici (src/pipeline/forward.ts).
  await app.register(httpProxy, {
    upstream: gw.runtime.config.upstream.url,
    httpMethods: ['GET'],
    routes: ['/', '/*'],
    proxyPayloads: false,
    // a hook that answers and never calls `done` ends the request there (Fastify's "respond from a hook")
    preHandler: (request: FastifyRequest, reply: FastifyReply) => {
      forwardStage(gw, request, reply, filter);
    },
    // never reached (the preHandler always answers); defence in depth, should that ever change
    handler: (request: FastifyRequest, reply: FastifyReply) => refuse(request, reply, 'internal_error', 'the request reached the proxy handler'),
  });
  return app as unknown as FastifyInstance<http.Server | https.Server>;
}

/** The vendor listener's open connections (its HTTP sockets; TLS sockets once their handshake is done). */
const openSockets = new WeakMap<http.Server | https.Server, Set<Socket>>();

/**
 * The drain: server.close() stops node's connection checks, so a request whose head is still arriving would never be
 * timed out — it would hold the shutdown for the whole vendor.shutdownGraceMs and then be cut with no answer and no
 * record. Once vendor.headersTimeoutMs has passed, every connection still open with no answer in flight or finished
 * (so a request is half received: node closed the idle ones) is refused 408 and recorded, as while serving. Returns a
 * function that cancels the timer.
 */
export function timeOutArrivingRequests(gw: Gateway, server: http.Server | https.Server): () => void {
  const sockets = openSockets.get(server);
  if (sockets === undefined) return () => undefined;
  const timer = setTimeout(() => {
    // connections whose answers were sent after the listener closed wait idle for another request: node closes those
    // (it knows which connections are between requests); what is left with nothing in flight has a request arriving
    server.closeIdleConnections();
    for (const socket of [...sockets]) {
      const inFlight = (socket as Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
      if (socket.destroyed || !socket.writable || socket.writableEnded || inFlight || refusedSockets.has(socket)) continue;
      clientError(gw, Object.assign(new Error('request timeout during shutdown'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket);
    }
  }, gw.runtime.config.vendor.headersTimeoutMs);
  timer.unref();
  return () => clearTimeout(timer);
}

/** Stages 5–7 for a request the pipeline allowed: rebuild the request, send it upstream, filter the answer. */
function forwardStage(gw: Gateway, request: FastifyRequest, reply: FastifyReply, filter: ReturnType<typeof createResponseFilter>): void {
  const ctx = request.mg;
  // the client hung up while the request was being decided: it is recorded (499) and there is no one to answer
  if (ctx.audited) return;
  // defence in depth: nothing is forwarded without an allow decision and a decided path
  if (ctx.decision !== 'allow' || !ctx.rule || ctx.upstreamPath === undefined || ctx.reasons.length > 0) {
    refuse(request, reply, 'internal_error', 'the request reached the forwarder without an allow decision');
    return;
  }
  // a subject whose earlier answers sit unread (or a gateway holding too many) gets no new one until they are taken
  const unread = gw.unread.refusal(ctx.identity?.subject);
  if (unread !== undefined) {
    refuse(request, reply, 'rate_limited', unread, { headers: { 'retry-after': '1' } });
    return;
  }
  ctx.upstreamStart = process.hrtime.bigint();
  const headers = upstreamHeaders(request.headers, ctx, ctx.runtime, request.id, gw.forwarder.host);
  const target = ctx.upstreamQuery ? `${ctx.upstreamPath}?${ctx.upstreamQuery}` : ctx.upstreamPath;
  gw.forwarder.fetch(target, headers, wantBody, (result) => filter(request, reply, result));
}

/**
 * The checks every vendor request passes before its target is read: the drain, the audit trail, a connection that is
 * closing or has too many requests waiting, an upgrade, and the message screen. Run by the onRequest hook (decide) and
 * for a target the router could not decode (frameworkErrors), which never reaches that hook. Returns whether the
 * request may go on; when it may not, it has been refused.
 */
function admit(gw: Gateway, request: FastifyRequest, reply: FastifyReply): boolean {
  const ctx = newContext(gw.runtime, gw);
  request.mg = ctx;
  ctx.ip = request.ip;
  if (gw.draining) return refused(refuse(request, reply, 'shutting_down', undefined, { headers: { connection: 'close' } }));
  if (gw.runtime.config.audit.failClosed && !gw.audit.healthy) return refused(refuse(request, reply, 'audit_unavailable'));
  // a request pipelined behind one that was refused with `connection: close`: node parsed it before the connection
  // closed, but its answer can never be sent. It is recorded and never forwarded.
  const behind = closingDetail(request.raw.socket);
  if (behind !== undefined) return refused(refuse(request, reply, 'request_rejected', behind, { headers: { connection: 'close' } }));
  // HTTP pipelining: node hands over every request a client sends without waiting for the answers before it, and
  // each one in flight can hold up to upstream.maxResponseBytes. A connection gets at most MAX_PIPELINED waiting
  // behind the one being answered; beyond that the request is refused and the connection closed.
  if (queuedBehind(request, reply)) return refused(refuse(request, reply, 'request_rejected', `more than ${MAX_PIPELINED} requests were sent on one connection without waiting for the answers`, { headers: { connection: 'close' } }));
  // after a request that asks for a protocol upgrade node reads no more requests from the connection (the bytes
  // after it belong to the other protocol): the answer closes the connection instead of leaving it open and idle
  // node does so only for a real upgrade (`Connection: upgrade`): behind an Upgrade header alone it goes on reading,
  // and the requests it hands over would be forwarded with nobody to receive their answers
  if (request.headers.upgrade !== undefined) {
    reply.raw.shouldKeepAlive = false;
    closeAfterAnswer(request.raw.socket, BEHIND_UPGRADE);
  }

  // 1. canonicalise: the message itself
  const screened = screenMessage(request.raw);
  if (screened) return refused(refuseEarly(gw, request, reply, 'request_rejected', screened, { headers: { connection: 'close' }, ...(screened === EXPECTATION_REFUSED ? { status: 417 } : {}) }));
  return true;
}

/** admit() refused the request: it has been answered (or its answer is on its way). */
const refused = (_reply: FastifyReply): false => false;

/**
 * How a stage that may wait hands on: `later` (the hook's `done`) is called once the request is decided, or with the
 * error that stopped it. A stage returns `true` when it waits and will call `later` itself, undefined when it decided
 * without waiting.
 */
type Later = (err?: Error) => void;

/** Runs a stage that may wait, from a callback: `later` is called once either way. */
function thenDecide(later: Later, stage: () => true | undefined): void {
  let waiting: true | undefined;
  try {
    waiting = stage();
  } catch (err) {
    later(err as Error);
    return;
  }
  if (waiting === undefined) later();
}

/** Stages 1–3 up to the token: undefined when decided here, true while the token's signature is checked (see Later). */
function decide(gw: Gateway, request: FastifyRequest, reply: FastifyReply, later: Later): true | undefined {
  const rt = gw.runtime;
  const v = rt.config.vendor;
  if (!admit(gw, request, reply)) return undefined;
  const ctx = request.mg;

  // 1. canonicalise: the target
  const c = canonicalise(request.raw.url ?? '', v);
  if (!c.ok) return void refuseEarly(gw, request, reply, 'path_rejected', c.detail, { status: c.status });
  ctx.target = c.target;

  // 2. match. A credential in the query string is refused as such, whatever the endpoint accepts.
  for (const key of c.target.query.keys()) {
    if (CREDENTIAL_QUERY_KEYS.has(key.toLowerCase())) return void refuseEarly(gw, request, reply, 'token_invalid', 'credentials are accepted only as a bearer token in the Authorization header, never in the query string');
  }
  if (c.target.path === WHOAMI_PATH) {
    if (request.method !== 'GET') return void refuseEarly(gw, request, reply, 'method_not_allowed', undefined, { headers: { allow: 'GET' } });
    if (c.target.query.size > 0) return void refuseEarly(gw, request, reply, 'query_not_allowed', 'whoami takes no query parameters');
    ctx.internal = 'whoami';
  } else {
    const m = rt.routes.match(request.method, c.target.segments);
    if (!m.ok) {
      if (m.reason === 'route_not_allowed') return void refuseEarly(gw, request, reply, m.reason);
      // the record names the endpoint the method was tried on (the answer does not: the vendor knows the path)
      ctx.rule = m.rule;
      return void refuseEarly(gw, request, reply, m.reason, undefined, { headers: { allow: m.allow } });
    }
    ctx.rule = m.rule;
    const q = checkQuery(m.rule, c.target.query);
    if (!q.ok) return void refuseEarly(gw, request, reply, q.reason, q.detail);
    ctx.upstreamPath = c.target.path;
    ctx.upstreamQuery = q.upstreamQuery;
  }

  // 3. authenticate
  const auth = gw.authenticator;
  const extracted = auth.extract(request.headers.authorization, countAuthorization(request.raw.rawHeaders));
  if ('reason' in extracted) {
    // no bearer token, but a credential sent another way (a cookie or another header carrying one, DESIGN §3): still
    // token_missing — RFC 6750 §3.1 gives no error code to a request that used a method the server does not take — with
    // a detail that says so, for the vendor and for the record, instead of the generic "send an access token"
    const elsewhere = extracted.reason === 'token_missing' ? otherCredential(request.headers) : null;
    const detail = elsewhere === null ? extracted.detail : `the request carries ${elsewhere} and no bearer token; credentials are accepted only as "Authorization: Bearer <token>"`;
    return void deny(gw, request, reply, extracted.reason, detail);
  }
  const other = otherCredential(request.headers);
  if (other) return void deny(gw, request, reply, 'token_invalid', `the request carries ${other} besides the bearer token; send exactly one credential, in the Authorization header`);
  const cached = auth.verifyCached(extracted.token);
  if (cached) return afterVerify(gw, request, reply, cached, later);
  auth.verify(extracted.token).then(
    (verified) => thenDecide(later, () => afterVerify(gw, request, reply, verified, later)),
    (err: unknown) => later(err as Error),
  );
  return true;
}

const BEHIND_UPGRADE = 'an earlier request on this connection asked for a protocol upgrade; the connection closes after its answer and this one is not answered';

/** Requests a connection may have waiting behind the one being answered (HTTP pipelining). */
export const MAX_PIPELINED = 8;
/** Requests waiting behind the one being answered, by connection: only pipelined requests are counted. */
const waiting = new WeakMap<Socket, number>();

/**
 * Whether this request is one too many waiting on its connection. A request is waiting when node has not attached
 * its answer to the socket, because an earlier answer on that connection is still being sent; the common case (no
 * pipelining) costs one property read. Counted until its answer finishes or the connection closes.
 */
function queuedBehind(request: FastifyRequest, reply: FastifyReply): boolean {
  const socket = request.raw.socket as (Socket & { _httpMessage?: unknown }) | null;
  if (!socket || socket._httpMessage === reply.raw) return false;
  const n = (waiting.get(socket) ?? 0) + 1;
  if (n > MAX_PIPELINED) return true;
  waiting.set(socket, n);
  reply.raw.once('close', () => {
    const left = (waiting.get(socket) ?? 1) - 1;
    if (left > 0) waiting.set(socket, left);
    else {
      waiting.delete(socket);
      // the last answer on a connection whose parser failed behind it: now the refusal of the bytes that failed
      const held = heldAnswers.get(socket);
      if (held !== undefined) {
        heldAnswers.delete(socket);
        answerAndClose(socket, held);
      }
    }
  });
  return false;
}

/**
 * Refusals of malformed bytes that arrived behind pipelined requests still being answered: sent after the last of
 * those answers, then the connection is closed (clientError).
 */
const heldAnswers = new WeakMap<Socket, string>();
/** Connections whose refusal waits for the answers in flight (clientError): later parse errors change nothing. */
const refusalPending = new WeakSet<Socket>();
/** Connections whose request timer fired while answers were in flight: a request completed after it is not read. */
const timedOutBehind = new WeakSet<Socket>();

/**
 * A refusal before the token is checked (stages 1–2: the message, the path, the route, the query). The decision never
 * depends on the token, but the record names the caller when the token was verified before (the verified-token
 * cache: no signature check here), so analysts see who probed for data endpoints. An unknown or forged token adds
 * nothing to the record.
 */
function refuseEarly(gw: Gateway, request: FastifyRequest, reply: FastifyReply, reason: DenyReason, detail?: string, opts?: Parameters<typeof refuse>[4]): FastifyReply {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const extracted = gw.authenticator.extract(header, countAuthorization(request.raw.rawHeaders));
    if ('token' in extracted) {
      const hit = gw.authenticator.verifyCached(extracted.token);
      if (hit?.ok) request.mg.token = hit.token;
    }
  }
  return refuse(request, reply, reason, detail, opts);
}

/** The rest of stage 3 and stage 4: undefined when decided here, true while the shared state is asked (see Later). */
function afterVerify(gw: Gateway, request: FastifyRequest, reply: FastifyReply, verified: AuthResult, later: Later): true | undefined {
  const ctx = request.mg;
  const rt = ctx.runtime;
  if (!verified.ok) return void deny(gw, request, reply, verified.reason, verified.detail);
  gw.metrics.countToken(verified.cached ? 'cached' : 'verified');
  ctx.token = verified.token;
  const bindingProblem = certificateBindingProblem(rt, request.raw.socket, verified.token.payload);
  if (bindingProblem) return void refuse(request, reply, 'certificate_binding_invalid', bindingProblem);

  // 4. authorize
  const decided = authorize(
    { payload: verified.token.payload, policy: rt.policy, now: gw.now(), ...(ctx.rule ? { category: ctx.rule.category } : {}) },
    { store: gw.store, metrics: gw.metrics },
    // a store that answers now (memory) needs no callback: none is made for its requests
    gw.store.checkNow
      ? undefined
      : (d) => {
          try {
            applyDecision(gw, request, reply, d);
          } catch (err) {
            later(err as Error);
            return;
          }
          later();
        },
  );
  if (decided === undefined) return true;
  applyDecision(gw, request, reply, decided);
  return undefined;
}

function applyDecision(gw: Gateway, request: FastifyRequest, reply: FastifyReply, decided: AuthorizeResult): void {
  const ctx = request.mg;
  if (decided.state) gw.noteStoreCheck(true);
  else if (!decided.ok && decided.denials.some((d) => d.reason === 'state_unavailable')) gw.noteStoreCheck(false);
  if (decided.identity) ctx.identity = decided.identity;
  if (decided.state) ctx.rateLimit = decided.state.rateLimit;
  if (!decided.ok) {
    const [first, ...rest] = decided.denials;
    const headers: Record<string, string> = {};
    if (first!.reason === 'rate_limited' && ctx.rateLimit) Object.assign(headers, rateLimitHeaders(ctx.rateLimit), { 'retry-after': String(Math.max(1, Math.ceil(ctx.rateLimit.resetMs / 1000))) });
    const detail = decided.denials.map((d) => d.detail).join('; ');
    const noted = decided.denials.some((d) => d.note !== undefined) ? decided.denials.map((d) => d.note ?? d.detail).join('; ') : undefined;
    refuse(request, reply, first!.reason, detail, { extraReasons: rest.map((d) => d.reason), headers, ...(noted ? { auditDetail: noted } : {}) });
    return;
  }
  ctx.decision = 'allow';
  if (ctx.rateLimit) reply.headers(rateLimitHeaders(ctx.rateLimit));
}

function deny(gw: Gateway, request: FastifyRequest, reply: FastifyReply, reason: DenyReason, detail: string): FastifyReply {
  gw.metrics.countToken(reason);
  return refuse(request, reply, reason, detail);
}

function rateLimitHeaders(rl: { limit: number; remaining: number; resetMs: number }): Record<string, string> {
  return {
    'ratelimit-limit': integerText(rl.limit),
    'ratelimit-remaining': integerText(Math.max(0, rl.remaining)),
    'ratelimit-reset': integerText(Math.max(0, Math.ceil(rl.resetMs / 1000))),
  };
}

/** CONNECT is never tunnelled: 405, one audit record, close. */
function connectRefused(gw: Gateway, req: http.IncomingMessage, socket: Socket): void {
  const requestId = randomUUID();
  const ctx = newContext(gw.runtime);
  ctx.reasons.push('method_not_allowed');
  ctx.detail = 'CONNECT is not accepted';
  const rec = buildRecord(ctx, requestId, req.method ?? 'CONNECT', socket.remoteAddress ?? '', 405);
  gw.metrics.countAudit(gw.audit.write(rec));
  gw.metrics.recordRequest('deny', 'method_not_allowed', 'none', req.method ?? 'CONNECT', rec.event.duration / 1e9);
  const body = JSON.stringify(problemBody('method_not_allowed', requestId));
  const answer = `HTTP/1.1 405 Method Not Allowed\r\nallow: GET\r\nconnection: close\r\ncontent-type: ${PROBLEM_CONTENT_TYPE}\r\n${RAW_SECURITY_HEADERS}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  // a CONNECT pipelined behind requests still being answered: their answers first
  answerInTurn(gw, socket, answer);
}

/**
 * Send a refusal on a raw socket node no longer reads requests from, after every answer still in flight on it
 * (pipelining: one written now would interleave with theirs or arrive first), then close the connection.
 */
function answerInTurn(gw: Gateway, socket: Socket, answer: string): void {
  const inFlight = (socket as Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
  if (!inFlight || inFlight.writableFinished) return answerAndClose(socket, answer);
  refusalPending.add(socket);
  // the answers in flight are bounded by the upstream deadline (twice: one retry); a client that does not read
  // them cannot keep the connection beyond that
  const deadline = setTimeout(() => socket.destroy(), 2 * gw.runtime.config.upstream.responseTimeoutMs + LINGER_MS);
  deadline.unref();
  socket.once('close', () => clearTimeout(deadline));
  if ((waiting.get(socket) ?? 0) > 0) heldAnswers.set(socket, answer);
  else inFlight.once('finish', () => answerAndClose(socket, answer));
}

/** Malformed HTTP (smuggling attempts, oversized headers, timeouts): answer, record, close. */
/** Connections clientError has already refused and recorded. */
const refusedSockets = new WeakSet<Socket>();

function clientError(gw: Gateway, err: NodeJS.ErrnoException, socket: Socket): void {
  const code = err.code ?? '';
  // the peer left (e.g. a load balancer resetting an idle keep-alive connection): there is no request to audit
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    socket.destroy();
    return;
  }
  // node reports a refused connection once more when the peer closes it after our answer: the FIN reaches a parser
  // still in the middle of the timed-out request (HPE_INVALID_EOF_STATE). One connection, one refusal, one record.
  if (refusedSockets.has(socket)) {
    // a refusal waits for the answers in flight on this connection: more bytes, or node's request timer for the
    // malformed message, change nothing (the connection closes after the refusal, or at its deadline)
    if (refusalPending.has(socket)) return;
    socket.destroy();
    return;
  }
  refusedSockets.add(socket);
  const inFlight = (socket as Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
  // the request being answered was refused with `connection: close` and recorded: these bytes are its body or come
  // after it, and are not a request of their own (one request, one record). Its answer closes the connection.
  if (closingDetail(socket) === BEHIND_REFUSAL) {
    if (!inFlight || inFlight.writableFinished) socket.destroy();
    return;
  }
  const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const requestId = randomUUID();
  const reason: DenyReason = 'request_rejected';
  // bytes after a request that asked to close the connection (`Connection: close`, HTTP/1.0) are not read as a request
  // (RFC 9112 §9.6): they are recorded, not answered, and the connection closes after that request's answer
  const afterClose = code === 'HPE_CLOSED_CONNECTION';
  const detail = status === 431 ? 'request headers too large' : status === 408 ? 'the request took too long to arrive' : afterClose ? 'data sent after a request that asked to close the connection; not read and not answered' : 'malformed HTTP request';
  const ctx = newContext(gw.runtime);
  ctx.reasons.push(reason);
  ctx.detail = `${detail} (${code || 'parse error'})`;
  const rec = buildRecord(ctx, requestId, 'OTHER', socket.remoteAddress ?? '', status);
  gw.metrics.countAudit(gw.audit.write(rec));
  gw.metrics.recordRequest('deny', reason, 'none', 'OTHER', rec.event.duration / 1e9);
  const body = JSON.stringify(problemBody(reason, requestId, detail, status));
  const answer = `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: ${PROBLEM_CONTENT_TYPE}\r\n${RAW_SECURITY_HEADERS}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  // Requests before the malformed bytes are still being answered (pipelining): a response written now would
  // interleave with theirs. Every request already handed over is answered in order, then this refusal, then the
  // connection closes.
  if (inFlight && !inFlight.writableFinished) {
    // the answer in flight closes the connection (node ends it after that answer): nothing more is sent
    if (afterClose) return;
    // a timeout leaves node's parser working: the timed-out request may still complete, and must not be forwarded
    if (code === 'ERR_HTTP_REQUEST_TIMEOUT') timedOutBehind.add(socket);
  }
  answerInTurn(gw, socket, answer);
}
