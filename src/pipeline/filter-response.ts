// Stage 7: let through only a bounded, uncompressed JSON answer with an allowed status, filtered field by field.

import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NOT_FOUND_PROBLEM, PROBLEM_CONTENT_TYPE } from '../errors.js';
import { FilterRejection } from '../filters/compile.js';
import type { Metrics, UpstreamErrorKind } from '../observability/metrics.js';
import { applySecurityHeaders, refuse } from './respond.js';

/** Upstream response headers that may reach the vendor (values are re-checked to be printable). */
const RESPONSE_HEADER_ALLOWLIST = ['etag', 'last-modified', 'content-language'] as const;

const JSON_TYPE_RE = /^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

export interface UpstreamResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  stream: Readable;
}

export type BodyOutcome = { ok: true; body: Buffer } | { ok: false; kind: UpstreamErrorKind };

/**
 * Read at most `cap` bytes within `deadlineMs`; past the cap or the deadline the stream is destroyed, so memory stays
 * bounded by the cap and a drip-feeding upstream (which undici's per-chunk body timeout never catches) cannot hold
 * the request open.
 */
export function readCapped(stream: Readable, cap: number, declaredLength: number | undefined, deadlineMs = Infinity): Promise<BodyOutcome> {
  return new Promise((resolve) => {
    if (declaredLength !== undefined && declaredLength > cap) {
      discard(stream);
      resolve({ ok: false, kind: 'too_large' });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (o: BodyOutcome) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      stream.off('data', onData);
      if (!o.ok) chunks.length = 0;
      resolve(o);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > cap) {
        finish({ ok: false, kind: 'too_large' });
        discard(stream);
        return;
      }
      chunks.push(chunk);
    };
    if (Number.isFinite(deadlineMs)) {
      timer = setTimeout(() => {
        finish({ ok: false, kind: 'timeout' });
        discard(stream);
      }, Math.max(0, deadlineMs));
    }
    stream.on('data', onData);
    stream.once('end', () => finish({ ok: true, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) }));
    stream.once('error', (err: NodeJS.ErrnoException) => finish({ ok: false, kind: /timeout/i.test(err.code ?? err.name ?? '') ? 'timeout' : 'reset' }));
    stream.once('close', () => finish({ ok: false, kind: 'reset' }));
  });
}

/**
 * Throw an upstream body away without reading it. undici's body stream errors with an AbortError when destroyed
 * before its end; without a listener that error is uncaught and takes the whole process down.
 */
export function discard(stream: Readable): void {
  stream.on('error', () => {});
  stream.destroy();
}

/** A single-valued header; a repeated header reads as `null` (ambiguous, never trusted). */
function header(h: UpstreamResponse['headers'], name: string): string | undefined | null {
  const v = h[name];
  return Array.isArray(v) ? null : v;
}

export interface FilterDeps {
  metrics?: Metrics;
}

/** Audit-only sentences per kind: they name what was wrong, never echo what the upstream sent. */
const KIND_DETAIL: Readonly<Record<UpstreamErrorKind, string>> = {
  connect: 'the upstream could not be reached',
  timeout: 'the upstream did not finish its answer in time',
  reset: 'the upstream connection broke before the answer was complete',
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
  else if (kind === 'status_5xx' || kind === 'status_other' || kind === 'reset' || kind === 'connect') refuse(request, reply, 'upstream_error');
  else refuse(request, reply, 'response_rejected');
}

/** The onResponse callback handed to the forwarder. */
export function createResponseFilter(deps: FilterDeps) {
  return function onUpstreamResponse(request: FastifyRequest, reply: FastifyReply, res: UpstreamResponse): void {
    filterResponse(request, reply, res, deps).catch(() => {
      // never an unhandled rejection (it would take the process down): refuse whatever went wrong
      discard(res.stream);
      if (!reply.sent) rejectResponse(request, reply, 'other', deps);
    });
  };
}

async function filterResponse(request: FastifyRequest, reply: FastifyReply, res: UpstreamResponse, deps: FilterDeps): Promise<void> {
  const ctx = request.mg;
  const status = res.statusCode;
  ctx.upstreamStatus = status;
  if (ctx.upstreamStart !== undefined) ctx.upstreamMs = Number(process.hrtime.bigint() - ctx.upstreamStart) / 1e6;
  const rule = ctx.rule!;
  const cfg = ctx.runtime.config.upstream;

  if (status === 304 || status === 404 || status === 204) {
    // an upstream error page or any other body never reaches the client; destroying (not draining) keeps an endless
    // or drip-fed body from holding the connection
    discard(res.stream);
    applySecurityHeaders(reply);
    if (status === 304) {
      copyAllowedHeaders(reply, res.headers);
      reply.code(304).send();
    } else if (status === 204) reply.code(204).send();
    else reply.code(404).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify({ ...NOT_FOUND_PROBLEM, request_id: request.id }));
    return;
  }
  if (status !== 200) {
    discard(res.stream);
    rejectResponse(request, reply, status >= 500 ? 'status_5xx' : status >= 300 && status < 400 ? 'redirect' : 'status_other', deps, `status ${status}`);
    return;
  }
  const encoding = header(res.headers, 'content-encoding');
  if (encoding === null || (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity')) {
    discard(res.stream);
    rejectResponse(request, reply, 'encoded', deps);
    return;
  }
  const type = header(res.headers, 'content-type');
  if (typeof type !== 'string' || !JSON_TYPE_RE.test(type)) {
    discard(res.stream);
    rejectResponse(request, reply, 'not_json', deps);
    return;
  }
  const lenHeader = header(res.headers, 'content-length');
  const declared = typeof lenHeader === 'string' && /^\d{1,15}$/.test(lenHeader) ? Number(lenHeader) : undefined;
  const started = ctx.upstreamStart ?? process.hrtime.bigint();
  const remainingMs = cfg.responseTimeoutMs - Number(process.hrtime.bigint() - started) / 1e6;
  const read = await readCapped(res.stream, cfg.maxResponseBytes, declared, remainingMs);
  if (!read.ok) {
    rejectResponse(request, reply, read.kind, deps, read.kind === 'too_large' ? `limit ${cfg.maxResponseBytes} bytes` : read.kind === 'timeout' ? `limit ${cfg.responseTimeoutMs} ms` : undefined);
    return;
  }
  // strict UTF-8 without a byte order mark: a lossy decode would let the gateway read other text than the bytes say
  const body = read.body;
  if (!isUtf8(body) || (body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf)) {
    rejectResponse(request, reply, 'bad_json', deps, 'invalid UTF-8 or a byte order mark');
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
  let out: string;
  try {
    out = JSON.stringify(rule.filter.apply(value, removed, cfg.maxJsonDepth));
  } catch (err) {
    rejectResponse(request, reply, err instanceof FilterRejection ? 'shape' : 'other', deps, err instanceof FilterRejection ? err.message : undefined);
    return;
  }
  ctx.fieldsRemoved = removed;
  ctx.responseBytes = Buffer.byteLength(out);
  deps.metrics?.countRemoved(removed);
  applySecurityHeaders(reply);
  copyAllowedHeaders(reply, res.headers);
  reply.code(200).type('application/json; charset=utf-8').send(out);
}

function copyAllowedHeaders(reply: FastifyReply, headers: UpstreamResponse['headers']): void {
  for (const name of RESPONSE_HEADER_ALLOWLIST) {
    const v = header(headers, name);
    if (typeof v === 'string' && v.length <= 256 && /^[\x20-\x7e]*$/.test(v)) reply.header(name, v);
  }
}
