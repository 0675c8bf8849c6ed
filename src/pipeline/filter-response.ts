// Stage 7: let through only a bounded, uncompressed JSON answer with an allowed status, filtered field by field.

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

/** Read at most `cap` bytes; past the cap the stream is destroyed so memory stays bounded by the cap. */
export function readCapped(stream: Readable, cap: number, declaredLength: number | undefined): Promise<BodyOutcome> {
  return new Promise((resolve) => {
    if (declaredLength !== undefined && declaredLength > cap) {
      stream.destroy();
      resolve({ ok: false, kind: 'too_large' });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (o: BodyOutcome) => {
      if (done) return;
      done = true;
      stream.off('data', onData);
      resolve(o);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > cap) {
        stream.destroy();
        finish({ ok: false, kind: 'too_large' });
        return;
      }
      chunks.push(chunk);
    };
    stream.on('data', onData);
    stream.once('end', () => finish({ ok: true, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) }));
    stream.once('error', (err: NodeJS.ErrnoException) => finish({ ok: false, kind: /timeout/i.test(err.code ?? err.name ?? '') ? 'timeout' : 'reset' }));
    stream.once('close', () => finish({ ok: false, kind: 'reset' }));
  });
}

function header(h: UpstreamResponse['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? undefined : v;
}

export interface FilterDeps {
  metrics?: Metrics;
}

function rejectResponse(request: FastifyRequest, reply: FastifyReply, kind: UpstreamErrorKind, deps: FilterDeps): void {
  deps.metrics?.upstreamErrors.inc({ kind });
  if (kind === 'timeout') refuse(request, reply, 'upstream_timeout');
  else if (kind === 'status_5xx' || kind === 'status_other' || kind === 'reset' || kind === 'connect') refuse(request, reply, 'upstream_error');
  else refuse(request, reply, 'response_rejected');
}

/** The onResponse callback handed to the forwarder. */
export function createResponseFilter(deps: FilterDeps) {
  return function onUpstreamResponse(request: FastifyRequest, reply: FastifyReply, res: UpstreamResponse): void {
    void filterResponse(request, reply, res, deps);
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
    res.stream.resume(); // discard any body: an upstream error page never reaches the client
    applySecurityHeaders(reply);
    if (status === 304) {
      copyAllowedHeaders(reply, res.headers);
      reply.code(304).send();
    } else if (status === 204) reply.code(204).send();
    else reply.code(404).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify({ ...NOT_FOUND_PROBLEM, request_id: request.id }));
    return;
  }
  if (status !== 200) {
    res.stream.resume();
    rejectResponse(request, reply, status >= 500 ? 'status_5xx' : status >= 300 && status < 400 ? 'redirect' : 'status_other', deps);
    return;
  }
  const encoding = header(res.headers, 'content-encoding');
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    res.stream.destroy();
    rejectResponse(request, reply, 'encoded', deps);
    return;
  }
  const type = header(res.headers, 'content-type');
  if (type === undefined || !JSON_TYPE_RE.test(type)) {
    res.stream.destroy();
    rejectResponse(request, reply, 'not_json', deps);
    return;
  }
  const lenHeader = header(res.headers, 'content-length');
  const declared = lenHeader !== undefined && /^\d+$/.test(lenHeader) ? Number(lenHeader) : undefined;
  const read = await readCapped(res.stream, cfg.maxResponseBytes, declared);
  if (!read.ok) {
    rejectResponse(request, reply, read.kind, deps);
    return;
  }
  let value: unknown;
  try {
    value = JSON.parse(read.body.toString('utf8'));
  } catch {
    rejectResponse(request, reply, 'bad_json', deps);
    return;
  }
  const removed = new Map<string, number>();
  let out: string;
  try {
    out = JSON.stringify(rule.filter.apply(value, removed, cfg.maxJsonDepth));
  } catch (err) {
    rejectResponse(request, reply, err instanceof FilterRejection ? 'shape' : 'bad_json', deps);
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
    if (v !== undefined && v.length <= 256 && /^[\x20-\x7e]*$/.test(v)) reply.header(name, v);
  }
}
