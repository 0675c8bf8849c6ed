// How the gateway answers on its own behalf: problem+json refusals with the headers every response carries.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_CONTENT_TYPE, problemBody } from '../errors.js';
import type { DenyReason } from '../policy/reasons.js';

/** Set on every vendor response, allowed or refused. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
});

export function applySecurityHeaders(reply: FastifyReply): void {
  for (const k in SECURITY_HEADERS) reply.header(k, SECURITY_HEADERS[k]!);
}

/**
 * Refuse the request: record the reason(s) on the request context and send RFC 9457 problem details.
 * The audit record is written during the send (onSend hook), so set everything the record should carry on the
 * request context BEFORE calling this.
 * Returns the reply so async hooks can `return refuse(...)` and stop the chain.
 */
export function refuse(
  request: FastifyRequest,
  reply: FastifyReply,
  reason: DenyReason,
  detail?: string,
  opts: { status?: number; extraReasons?: DenyReason[]; headers?: Record<string, string> } = {},
): FastifyReply {
  const ctx = request.mg;
  ctx.decision = 'deny';
  if (!ctx.reasons.includes(reason)) ctx.reasons.push(reason);
  for (const r of opts.extraReasons ?? []) if (!ctx.reasons.includes(r)) ctx.reasons.push(r);
  if (detail !== undefined) ctx.detail = detail;
  const body = problemBody(reason, request.id, detail, opts.status);
  if (ctx.reasons.length > 1) (body as unknown as { reasons: DenyReason[] }).reasons = [...ctx.reasons];
  reply.removeHeader('content-length');
  applySecurityHeaders(reply);
  if (opts.headers) for (const [k, v] of Object.entries(opts.headers)) reply.header(k, v);
  reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
  return reply;
}
