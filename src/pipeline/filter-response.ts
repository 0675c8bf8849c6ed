// Stage 7: let through only a bounded, uncompressed JSON answer with an allowed status, filtered field by field.

import { isUtf8 } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NOT_FOUND_PROBLEM, PROBLEM_CONTENT_TYPE } from '../errors.js';
import { FilterRejection } from '../filters/compile.js';
import { hideOrigins } from '../filters/origins.js';
import type { Metrics, UpstreamErrorKind } from '../observability/metrics.js';
import type { ForwardResult } from './forward.js';
import type { UnreadAnswers } from './unread.js';
import { RESPONSE_HEADER_ALLOWLIST, applySecurityHeaders, refuse, send } from './respond.js';

const JSON_TYPE_RE = /^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/** A single-valued header; a repeated header reads as `null` (ambiguous, never trusted). */
function header(h: IncomingHttpHeaders, name: string): string | undefined | null {
  const v = h[name];
  return Array.isArray(v) ? null : v;
}

const NOTHING_REMOVED: ReadonlyMap<string, number> = new Map();
const ADDRESS_NOT_REMOVABLE = "the platform's address is written into the answer in a way removing it would put back together";

export interface FilterDeps {
  metrics?: Metrics;
  /** answers not yet taken by their clients: each allowed answer is watched until it is */
  unread?: UnreadAnswers;
}

/** Audit-only sentences per kind: they name what was wrong, never echo what the upstream sent. */
const KIND_DETAIL: Readonly<Record<UpstreamErrorKind, string>> = {
  connect: 'the upstream could not be reached',
  timeout: 'the upstream did not finish its answer in time',
  reset: 'the upstream connection broke before the answer was complete',
  protocol: 'the upstream answered with a message that is not valid HTTP/1.1',
  status_5xx: 'the upstream answered with a server error status',
  status_other: 'the upstream answered with a status the gateway does not pass on',
  redirect: 'the upstream answered with a redirect, which is never followed or passed on',
  not_json: 'the upstream answer is not application/json in UTF-8',
  encoded: 'the upstream answer carries a content encoding other than identity',
  too_large: 'the upstream answer is larger than upstream.maxResponseBytes',
  bad_json: 'the upstream answer is not valid UTF-8 JSON',
  shape: 'the upstream answer does not have the shape the response filter accepts',
  other: 'the upstream answer could not be filtered',
};

function rejectResponse(request: FastifyRequest, reply: FastifyReply, kind: UpstreamErrorKind, deps: FilterDeps, note?: string): void {
  deps.metrics?.upstreamErrors.inc({ kind });
  // The audit record says what was wrong; the vendor gets the reason's generic sentence (refuse() is given no detail,
  // so it keeps this one for the record and puts the default into the body). Set first: the record may be written
  // while the answer is being sent.
  request.mg.detail = note ? `${KIND_DETAIL[kind]} (${note})` : KIND_DETAIL[kind];
  if (kind === 'timeout') refuse(request, reply, 'upstream_timeout');
  else if (kind === 'status_5xx' || kind === 'status_other' || kind === 'reset' || kind === 'connect' || kind === 'protocol') refuse(request, reply, 'upstream_error');
  else refuse(request, reply, 'response_rejected');
}

/**
 * Whether the forwarder should read the body: only a 200 answer in uncompressed JSON is ever passed on. Every other
 * answer is refused or answered by the gateway on its own, so its body is never read.
 */
export function wantBody(status: number, headers: IncomingHttpHeaders): boolean {
  return status === 200 && encodingProblem(headers) === null && typeProblem(headers) === null;
}

function encodingProblem(headers: IncomingHttpHeaders): 'encoded' | null {
  const encoding = header(headers, 'content-encoding');
  return encoding === null || (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') ? 'encoded' : null;
}

function typeProblem(headers: IncomingHttpHeaders): 'not_json' | null {
  const type = header(headers, 'content-type');
  return typeof type !== 'string' || !JSON_TYPE_RE.test(type) ? 'not_json' : null;
}

/**
 * The forwarder's callback: answer the vendor from what the upstream sent, or refuse. Never throws.
 *
 * An upstream answer is filtered and sent at the end of the turn of the event loop it arrived in (a setImmediate), as
 * the requests decided in one turn are forwarded together (app.ts): the answers of a turn then leave one after another
 * in arrival order. Measured, that costs less CPU per request (docs/performance.md, tenth pass): a client reading them
 * is woken once for several instead of once for each, and the filter runs warm. Each answer has its own setImmediate,
 * not one loop over all of them: node runs what the previous answer set off (next ticks, promise reactions) before the
 * next one, so an audit destination that reports a failed write on the next tick withholds the answers after it
 * (audit.failClosed), as when each answer was sent from its own I/O callback. An exchange that failed is refused at
 * once: at shutdown its record must say the gateway cut it, before the closing connection is taken for the client
 * hanging up.
 */
export function createResponseFilter(deps: FilterDeps) {
  return function onUpstreamAnswer(request: FastifyRequest, reply: FastifyReply, result: ForwardResult): void {
    if (!result.ok) answer(request, reply, result, deps);
    else setImmediate(answer, request, reply, result, deps);
  };
}

function answer(request: FastifyRequest, reply: FastifyReply, result: ForwardResult, deps: FilterDeps): void {
  try {
    filterResponse(request, reply, result, deps);
  } catch {
    // never an unhandled error (it would take the process down, and with it the other answers of the turn): refuse
    // whatever went wrong
    try {
      if (!reply.sent) rejectResponse(request, reply, 'other', deps);
    } catch {
      // the refusal failed too: the connection is closed rather than left waiting (the onRequestAbort hook records
      // the request if nothing has)
      try {
        reply.raw.destroy();
      } catch {
        // nothing more can be done for this answer; the others of the turn still go out
      }
    }
  }
}

function filterResponse(request: FastifyRequest, reply: FastifyReply, result: ForwardResult, deps: FilterDeps): void {
  const ctx = request.mg;
  if (ctx.upstreamStart !== undefined) ctx.upstreamMs = Number(process.hrtime.bigint() - ctx.upstreamStart) / 1e6;
  const cfg = ctx.runtime.config.upstream;
  if (!result.ok) {
    const k = result.kind;
    if (k === 'shutdown') {
      // not an upstream fault: the gateway stopped waiting for it (its client connection is gone too)
      ctx.detail = `the gateway shut down before the upstream answered (vendor.shutdownGraceMs ${ctx.runtime.config.vendor.shutdownGraceMs} ms)`;
      refuse(request, reply, 'shutting_down');
      return;
    }
    rejectResponse(request, reply, k, deps, k === 'too_large' ? `limit ${cfg.maxResponseBytes} bytes` : k === 'timeout' ? `limit ${cfg.responseTimeoutMs} ms` : undefined);
    return;
  }
  const res = result.answer;
  const status = res.statusCode;
  ctx.upstreamStatus = status;

  if (status === 404 || status === 204) {
    // an upstream error page or any other body never reaches the client (the forwarder did not read it)
    applySecurityHeaders(reply);
    if (status === 204) send(request, reply.code(204));
    else send(request, reply.code(404).type(PROBLEM_CONTENT_TYPE), JSON.stringify({ ...NOT_FOUND_PROBLEM, request_id: request.id }));
    return;
  }
  if (status !== 200) {
    // a 304 is not passed on either: the gateway never sends a conditional request (the platform's validators describe
    // its unfiltered answer), so an upstream 304 answers a question nobody asked
    rejectResponse(request, reply, status >= 500 ? 'status_5xx' : status >= 300 && status < 400 && status !== 304 ? 'redirect' : 'status_other', deps, `status ${status}`);
    return;
  }
  // the forwarder read the body only if wantBody() accepted these headers: no body means they were refused
  const body = res.body;
  if (body === null) {
    rejectResponse(request, reply, encodingProblem(res.headers) ?? typeProblem(res.headers) ?? 'other', deps);
    return;
  }
  // strict UTF-8 without a byte order mark: a lossy decode would let the gateway read other text than the bytes say
  if (!isUtf8(body) || (body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf)) {
    rejectResponse(request, reply, 'bad_json', deps, 'invalid UTF-8 or a byte order mark');
    return;
  }
  const filter = ctx.rule!.filter;
  // the common case: a strict scan of the bytes proves the filter would remove nothing and re-serialising would change
  // no value (src/filters/scan.ts), so the upstream's bytes are sent as they are; anything else goes the full way
  if (filter.unchanged(body, cfg.maxJsonDepth)) {
    const out = hideOrigins(body, ctx.runtime.hiddenOrigins);
    if (out === null) {
      rejectResponse(request, reply, 'shape', deps, ADDRESS_NOT_REMOVABLE);
      return;
    }
    ctx.fieldsRemoved = NOTHING_REMOVED;
    ctx.responseBytes = out.length;
    sendJson(request, reply, res.headers, out, deps);
    return;
  }
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    rejectResponse(request, reply, 'bad_json', deps);
    return;
  }
  const removed = new Map<string, number>();
  let out: Buffer | null;
  try {
    out = hideOrigins(Buffer.from(JSON.stringify(filter.apply(value, removed, cfg.maxJsonDepth))), ctx.runtime.hiddenOrigins);
  } catch (err) {
    rejectResponse(request, reply, err instanceof FilterRejection ? 'shape' : 'other', deps, err instanceof FilterRejection ? err.message : undefined);
    return;
  }
  if (out === null) {
    rejectResponse(request, reply, 'shape', deps, ADDRESS_NOT_REMOVABLE);
    return;
  }
  const bytes = out.length;
  // JSON.stringify can write a number longer than it was sent (1e20 → 21 digits): the answer the vendor gets is held
  // to the same cap as the one the platform sent
  if (bytes > cfg.maxResponseBytes) {
    rejectResponse(request, reply, 'too_large', deps, `limit ${cfg.maxResponseBytes} bytes, ${bytes} bytes once re-serialised`);
    return;
  }
  ctx.fieldsRemoved = removed;
  ctx.responseBytes = bytes;
  deps.metrics?.countRemoved(removed);
  sendJson(request, reply, res.headers, out, deps);
}

/** The allowed answer: 200, the filtered (or proven unchanged) JSON, the security headers and the passed ones. */
function sendJson(request: FastifyRequest, reply: FastifyReply, upstreamHeaders: IncomingHttpHeaders, payload: Buffer, deps: FilterDeps): void {
  applySecurityHeaders(reply);
  copyAllowedHeaders(reply, upstreamHeaders);
  send(request, reply.code(200).type('application/json; charset=utf-8'), payload);
  deps.unread?.watch(reply.raw, request.raw.socket, request.mg.identity?.subject);
}

/**
 * The exact syntax each passed header must have. Content-Language is a list of language tags made of a 2–3 letter
 * language, an optional 4-letter script and an optional 2-letter or 3-digit region (RFC 5646), without variants,
 * extensions or private-use subtags (free text). A value of any other shape is dropped, not passed.
 */
const HEADER_SYNTAX: Readonly<Record<(typeof RESPONSE_HEADER_ALLOWLIST)[number], RegExp>> = {
  'content-language': /^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-[A-Za-z]{2}|-\d{3})?( ?, ?[A-Za-z]{2,3}(-[A-Za-z]{4})?(-[A-Za-z]{2}|-\d{3})?){0,7}$/,
};

function copyAllowedHeaders(reply: FastifyReply, headers: IncomingHttpHeaders): void {
  for (const name of RESPONSE_HEADER_ALLOWLIST) {
    const v = header(headers, name);
    if (typeof v === 'string' && v.length <= 256 && HEADER_SYNTAX[name].test(v)) reply.header(name, v);
  }
}
