// How the gateway answers on its own behalf: problem+json refusals with the headers every response carries.

import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_CONTENT_TYPE, problemBody } from '../errors.js';
import type { DenyReason } from '../policy/reasons.js';
import { recordDecision } from './audit.js';

/** Set on every vendor response, allowed or refused. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
});

/** The same, as a list: walked by index on every answer (a for-in over the object costs megamorphic lookups). */
const SECURITY_HEADER_LIST: readonly (readonly [string, string])[] = Object.freeze(Object.entries(SECURITY_HEADERS));

/** The same headers as lines of an answer written on a raw socket (a CONNECT, a message node cannot parse). */
export const RAW_SECURITY_HEADERS = SECURITY_HEADER_LIST.map(([k, v]) => `${k}: ${v}\r\n`).join('');

export function applySecurityHeaders(reply: FastifyReply): void {
  for (let i = 0; i < SECURITY_HEADER_LIST.length; i++) reply.header(SECURITY_HEADER_LIST[i]![0], SECURITY_HEADER_LIST[i]![1]);
}

/**
 * Upstream response headers that may reach the vendor (values are re-checked against a narrow syntax). Never the
 * platform's validators (ETag, Last-Modified): they describe its unfiltered answer, so a vendor could test guesses of a
 * removed value against the tag offline, or see when a removed value changes (docs/faults.md F51).
 */
export const RESPONSE_HEADER_ALLOWLIST = ['content-language'] as const;

/** Headers an allowed answer may carry that a withheld one must not. */
const ANSWER_HEADERS = [...RESPONSE_HEADER_ALLOWLIST, 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'];

/**
 * Send the answer, its audit record written first (write-ahead). An allowed answer whose record cannot be handed to a
 * healthy trail is withheld and replaced by 503 audit_unavailable (audit.failClosed). Every answer of the vendor
 * pipeline leaves through here; an onResponse hook records, after the fact, anything that did not.
 */
export function send(request: FastifyRequest, reply: FastifyReply, payload?: string | Buffer): FastifyReply {
  const ctx = request.mg;
  const recorder = ctx.recorder;
  if (recorder !== undefined && !ctx.audited) {
    const written = recordDecision(recorder, request, reply);
    if (written === false && ctx.decision === 'allow' && reply.statusCode < 400 && ctx.runtime.config.audit.failClosed) {
      ctx.decision = 'deny';
      ctx.reasons.push('audit_unavailable');
      for (const h of ANSWER_HEADERS) reply.removeHeader(h);
      return reply.code(503).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problemBody('audit_unavailable', request.id)));
    }
  }
  return reply.send(payload);
}

const BEARER_CHALLENGE = 'Bearer realm="metagate"';
const BEARER_INVALID = 'Bearer realm="metagate", error="invalid_token"';

/**
 * Connections the gateway closes after the answer in flight (a refusal with `connection: close`, a request asking
 * for a protocol upgrade), with what the record of a request pipelined behind it says: such a request is never
 * answered, so it is refused, recorded and never forwarded.
 */
const closing = new WeakMap<Socket, string>();

export const BEHIND_REFUSAL = 'an earlier request on this connection was refused and the connection is closing';

/** Why requests pipelined behind the answer in flight on this connection are not answered (undefined: they are). */
export function closingDetail(socket: Socket | null | undefined): string | undefined {
  return socket == null ? undefined : closing.get(socket);
}

/** The connection closes after the answer in flight: requests pipelined behind it are refused with `detail`. */
export function closeAfterAnswer(socket: Socket | null | undefined, detail: string): void {
  if (socket != null && !closing.has(socket)) closing.set(socket, detail);
}

/** The record of a request whose client left before its answer was sent: status 499 and this detail. */
export const HUNG_UP = 'the client closed the connection before the answer was sent';

/**
 * Refuse the request: record the reason(s) on the request context and send RFC 9457 problem details.
 * The audit record is written as the answer is sent, so set everything the record should carry on the request
 * context BEFORE calling this.
 * Returns the reply so async hooks can `return refuse(...)` and stop the chain.
 */
export function refuse(
  request: FastifyRequest,
  reply: FastifyReply,
  reason: DenyReason,
  detail?: string,
  opts: { status?: number; extraReasons?: DenyReason[]; headers?: Record<string, string>; auditDetail?: string } = {},
): FastifyReply {
  const ctx = request.mg;
  ctx.decision = 'deny';
  if (!ctx.reasons.includes(reason)) ctx.reasons.push(reason);
  for (const r of opts.extraReasons ?? []) if (!ctx.reasons.includes(r)) ctx.reasons.push(r);
  // the record may say more than the vendor reads (auditDetail: operators' words, see stateDenials)
  if (opts.auditDetail !== undefined) ctx.detail = opts.auditDetail;
  else if (detail !== undefined) ctx.detail = detail;
  const body = problemBody(reason, request.id, detail, opts.status);
  if (ctx.reasons.length > 1) (body as unknown as { reasons: DenyReason[] }).reasons = [...ctx.reasons];
  reply.removeHeader('content-length');
  applySecurityHeaders(reply);
  // RFC 9110 §15.5.2 / RFC 6750 §3: a 401 names the scheme; "invalid_token" unless no credential was sent. The
  // reason stays in the problem body only (no error_description: nothing about the token is echoed).
  if (body.status === 401) reply.header('www-authenticate', reason === 'token_missing' ? BEARER_CHALLENGE : BEARER_INVALID);
  if (opts.headers) for (const [k, v] of Object.entries(opts.headers)) reply.header(k, v);
  if (opts.headers?.connection === 'close') closeAfterAnswer(request.raw.socket, BEHIND_REFUSAL);
  reply.code(body.status).type(PROBLEM_CONTENT_TYPE);
  return send(request, reply, JSON.stringify(body));
}

/** How long a refused raw connection may keep sending after its answer before it is closed. */
export const LINGER_MS = 2000;

/**
 * Answer on a raw socket node no longer manages (CONNECT, a parse error, a timeout) and close it. The socket gets its
 * own error handler first: node has detached its HTTP handling, and an unhandled ECONNRESET from a client that hung up
 * would take the process down. After the answer, whatever the client still sends is read and dropped (closing with
 * unread input would send a reset that can destroy the answer in flight) until it closes its side or LINGER_MS pass;
 * then the connection is destroyed, so a refused client cannot keep a file descriptor open (the listener is
 * half-open, so end() alone would leave the socket waiting for the client).
 */
export function answerAndClose(socket: Socket, answer: string): void {
  socket.on('error', () => socket.destroy());
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  // the client closed its side: close ours once the answer is written (a client that sends its request and a FIN at
  // once must still read the answer)
  socket.once('end', () => socket.destroySoon());
  socket.resume();
  socket.end(answer);
}
