// Stage 6: send the rebuilt request upstream over a bounded undici pool — GET only, no redirects, with timeouts —
// and collect the answer: at most upstream.maxResponseBytes, within upstream.responseTimeoutMs for the whole answer.
//
// @fastify/http-proxy registers the vendor routes and hands each request to this forwarder through its `handler`
// hook; the request goes out on undici (the client underneath @fastify/reply-from) directly, through its dispatch
// handler interface: the answer is buffered and filtered anyway, and a Readable body stream, reply-from's header
// copying and streaming cost more per request than the whole policy check (docs/performance.md has the profile).

import type { IncomingHttpHeaders } from 'node:http';
import type { LookupFunction } from 'node:net';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import type { UpstreamConfig } from '../config/types.js';

/** `shutdown`: the gateway cut the exchange because it is stopping (vendor.shutdownGraceMs is over). */
export type ForwardFailureKind = 'timeout' | 'connect' | 'reset' | 'protocol' | 'too_large' | 'shutdown';

/** The upstream's answer: its status and headers, and its body when the caller asked for it (null otherwise). */
export interface UpstreamAnswer {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: Buffer | null;
}

export type ForwardResult = { ok: true; answer: UpstreamAnswer } | { ok: false; kind: ForwardFailureKind };

/**
 * Decides, from the status and headers, whether the body is wanted. A body that is not wanted is never read: the
 * upstream connection is dropped at once, so an endless or drip-fed body cannot hold the request.
 */
export type WantBody = (statusCode: number, headers: IncomingHttpHeaders) => boolean;

export interface ForwarderOptions {
  ca?: Buffer;
  /** resolves upstream host names before each connection (the sovereignty guard plugs in here) */
  lookup?: LookupFunction;
}

/** Thrown into undici to stop an answer the gateway has finished with (never reaches a caller). */
class Dropped extends Error {}

export class Forwarder {
  private readonly pool: Pool;
  readonly host: string;
  private readonly maxBytes: number;
  private readonly deadlineMs: number;

  constructor(cfg: UpstreamConfig, opts: ForwarderOptions = {}) {
    const url = new URL(cfg.url);
    this.host = url.host;
    this.maxBytes = cfg.maxResponseBytes;
    this.deadlineMs = cfg.responseTimeoutMs;
    this.pool = new Pool(url.origin, {
      connections: cfg.connections,
      pipelining: 1,
      headersTimeout: cfg.responseTimeoutMs,
      bodyTimeout: cfg.responseTimeoutMs,
      keepAliveTimeout: 30_000,
      connect: {
        timeout: cfg.connectTimeoutMs,
        ...(opts.ca ? { ca: opts.ca } : {}),
        ...(opts.lookup ? { lookup: opts.lookup } : {}),
      },
    });
  }

  /**
   * GET `path` (canonical path plus accepted query) with exactly these headers; never follows redirects. `done` is
   * called exactly once. A reset before any answer (a pooled keep-alive connection the upstream closed just as it
   * was reused) is sent once more: the request is a GET and nothing came back.
   */
  fetch(path: string, headers: Record<string, string>, wantBody: WantBody, done: (r: ForwardResult) => void): void {
    new Exchange(this, this.pool, path, headers, wantBody, this.maxBytes, this.deadlineMs, done).send();
  }

  /** The same as fetch, as a promise. */
  get(path: string, headers: Record<string, string>, wantBody: WantBody = () => true): Promise<ForwardResult> {
    return new Promise((resolve) => this.fetch(path, headers, wantBody, resolve));
  }

  /**
   * At shutdown, after the vendor listener has closed: an upstream request still running belongs to a client that is
   * gone, so it is cut rather than waited for (waiting could outlast vendor.shutdownGraceMs by the whole
   * upstream.responseTimeoutMs).
   */
  close(): Promise<void> {
    this.closing = true;
    return this.pool.destroy();
  }

  /** set once close() has begun: an exchange that fails from then on was cut by the shutdown */
  closing = false;
}

/** One upstream exchange: the undici dispatch handler, the whole-answer deadline and the one retry. */
class Exchange implements Dispatcher.DispatchHandler {
  private chunks: Buffer[] = [];
  private size = 0;
  private statusCode = 0;
  private headers: IncomingHttpHeaders = {};
  private started = false;
  private reading = false;
  private finished = false;
  private retried = false;
  private controller: Dispatcher.DispatchController | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly owner: { readonly closing: boolean },
    private readonly pool: Pool,
    private readonly path: string,
    private readonly reqHeaders: Record<string, string>,
    private readonly wantBody: WantBody,
    private readonly maxBytes: number,
    deadlineMs: number,
    private readonly done: (r: ForwardResult) => void,
  ) {
    // undici's per-chunk body timeout never catches an upstream that drips one byte at a time: the whole answer
    // has one deadline
    this.timer = setTimeout(() => this.fail('timeout'), deadlineMs);
  }

  send(): void {
    this.pool.dispatch({ method: 'GET', path: this.path, headers: this.reqHeaders }, this);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.finished) controller.abort(new Dropped());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (this.finished) return;
    // 1xx informational answers are not the answer
    if (statusCode < 200) return;
    this.started = true;
    this.statusCode = statusCode;
    this.headers = headers;
    let want = false;
    try {
      want = this.wantBody(statusCode, headers);
    } catch {
      want = false;
    }
    if (!want) {
      this.succeed(null);
      // an answer without a body ends by itself and keeps its pooled connection; any other is cut off
      if (statusCode !== 204 && statusCode !== 304 && headers['content-length'] !== '0') controller.abort(new Dropped());
      return;
    }
    const declared = headers['content-length'];
    if (typeof declared === 'string' && /^\d{1,15}$/.test(declared) && Number(declared) > this.maxBytes) {
      this.fail('too_large');
      return;
    }
    this.reading = true;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.finished || !this.reading) return;
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      this.fail('too_large');
      return;
    }
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.finished) return;
    if (!this.started) {
      this.fail('reset');
      return;
    }
    const c = this.chunks;
    this.succeed(c.length === 1 ? c[0]! : Buffer.concat(c, this.size));
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.finished || err instanceof Dropped) return;
    if (this.owner.closing) return this.fail('shutdown');
    const kind = classify(err);
    if (kind === 'reset' && !this.started && !this.retried) {
      this.retried = true;
      this.controller = null;
      // on the next turn: undici has then dropped the broken connection, so the retry gets a fresh one
      setImmediate(() => {
        if (!this.finished) this.send();
      });
      return;
    }
    this.fail(kind);
  }

  private succeed(body: Buffer | null): void {
    this.finished = true;
    clearTimeout(this.timer);
    this.chunks = [];
    this.done({ ok: true, answer: { statusCode: this.statusCode, headers: this.headers, body } });
  }

  private fail(kind: ForwardFailureKind): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.chunks = [];
    // stop reading: memory stays bounded by the cap and the upstream connection is not kept for a broken answer
    if (this.controller && !this.controller.aborted) this.controller.abort(new Dropped());
    this.done({ ok: false, kind });
  }
}

function classify(err: unknown): ForwardFailureKind {
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError) return 'timeout';
  const code = (err as NodeJS.ErrnoException).code ?? '';
  // the upstream answered, but not in HTTP/1.1 undici can read (bad framing, duplicate or malformed Content-Length,
  // obs-fold, bare LF, oversized head, garbage, a 100 Continue nobody asked for, an upgrade): it was reached, so not
  // "connect", and its answer broke no connection, so not "reset" (which is sent once more)
  // (llhttp frames the body by Content-Length, so a body that does not match it means two disagreeing headers)
  if (err instanceof undiciErrors.HTTPParserError || code.startsWith('HPE_') || code === 'UND_ERR_HEADERS_OVERFLOW' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return 'protocol';
  if (code === 'UND_ERR_SOCKET' && (err as Error).message.startsWith('bad ')) return 'protocol';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return 'reset';
  return 'connect';
}
