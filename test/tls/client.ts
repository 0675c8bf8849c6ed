// An HTTPS client for the TLS tests: one fresh connection per request, with or without a client certificate.

import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { CertFiles } from './pki.js';

export interface HttpsResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

export function httpsGet(
  baseUrl: string,
  path: string,
  opts: { ca: string; client?: CertFiles; headers?: Record<string, string>; maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = { ca: '' },
): Promise<HttpsResponse> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: u.hostname,
        port: u.port,
        path,
        method: 'GET',
        headers: opts.headers ?? {},
        ca: readFileSync(opts.ca),
        ...(opts.client ? { cert: readFileSync(opts.client.cert), key: readFileSync(opts.client.key) } : {}),
        ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
        agent: false,
        timeout: 5000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body) as T });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** An HTTPS server (cert/key given) that forwards every request to `target` over plain HTTP: a TLS-only upstream. */
export async function startTlsFront(target: string, tlsFiles: CertFiles): Promise<{ url: string; hits: number; close(): Promise<void> }> {
  const t = new URL(target);
  const state = { url: '', hits: 0, close: async () => {} };
  const server = https.createServer({ cert: readFileSync(tlsFiles.cert), key: readFileSync(tlsFiles.key) }, (req, res) => {
    state.hits++;
    const p = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (pr) => {
      res.writeHead(pr.statusCode ?? 502, pr.headers);
      pr.pipe(res);
    });
    p.on('error', () => res.destroy());
    req.pipe(p);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return state;
}
