// Stage 6: send the rebuilt request upstream over a bounded undici pool — GET only, no redirects, with timeouts.
//
// @fastify/http-proxy registers the vendor routes and hands each request to this forwarder through its `handler`
// hook; the request goes out on undici (the client underneath @fastify/reply-from) directly, because the response is
// buffered and filtered anyway and reply-from's streaming, header copying and retry machinery cost more per request
// than the whole policy check (docs/performance.md has the profile and the numbers).

import type { LookupFunction } from 'node:net';
import { Pool, errors as undiciErrors } from 'undici';
import type { UpstreamConfig } from '../config/types.js';
import type { UpstreamResponse } from './filter-response.js';

export type ForwardFailure = { ok: false; kind: 'timeout' | 'connect' | 'reset' };
export type ForwardResult = { ok: true; response: UpstreamResponse } | ForwardFailure;

export interface ForwarderOptions {
  ca?: Buffer;
  /** resolves upstream host names before each connection (the sovereignty guard plugs in here) */
  lookup?: LookupFunction;
}

export class Forwarder {
  private readonly pool: Pool;
  readonly host: string;

  constructor(cfg: UpstreamConfig, opts: ForwarderOptions = {}) {
    const url = new URL(cfg.url);
    this.host = url.host;
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

  /** GET `path` (canonical path plus accepted query) with exactly these headers; never follows redirects. */
  async get(path: string, headers: Record<string, string>): Promise<ForwardResult> {
    try {
      return await this.send(path, headers);
    } catch (err) {
      const kind = classify(err);
      if (kind !== 'reset') return { ok: false, kind };
      // A reset before any answer is what a pooled keep-alive connection gives when the upstream closed it just as it
      // was reused. The request is a GET and nothing came back: send it once more (undici has dropped that socket).
      try {
        return await this.send(path, headers);
      } catch (again) {
        return { ok: false, kind: classify(again) };
      }
    }
  }

  private async send(path: string, headers: Record<string, string>): Promise<ForwardResult> {
    const res = await this.pool.request({ method: 'GET', path, headers });
    return { ok: true, response: { statusCode: res.statusCode, headers: res.headers, stream: res.body } };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

function classify(err: unknown): ForwardFailure['kind'] {
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError) return 'timeout';
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return 'reset';
  return 'connect';
}
