// TLS on both listeners, mTLS, RFC 8705 certificate-bound tokens, and upstream TLS against a configured CA bundle.

import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';
import { request } from '../helpers/http.js';
import { personas } from '../../src/demo/issuer.js';
import { DEMO_TABLE_ID } from '../../src/demo/platform.js';
import { createPki, thumbprint, type Pki } from './pki.js';
import { httpsGet, startTlsFront } from './client.js';

const TABLE = `/api/v1/tables/${DEMO_TABLE_ID}`;

/** The audit record is written when the response has finished, which can be just after the client has read it. */
async function lastRequestRecord(h: Harness, count: number) {
  for (let i = 0; i < 100 && h.audit.requestRecords().length < count; i++) await new Promise((r) => setTimeout(r, 10));
  return h.audit.requestRecords().at(-1)!;
}
const geheim = () => personas(Math.floor(Date.now() / 1000)).geheim!.claims;

let pki: Pki;
beforeAll(() => {
  pki = createPki();
});
afterAll(() => pki?.remove());

describe('vendor and admin listeners over TLS (no client certificate required)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      configure: (c) => {
        c.vendor.tls = { certFile: pki.server.cert, keyFile: pki.server.key };
        c.admin.tls = { certFile: pki.server.cert, keyFile: pki.server.key };
      },
    });
  });
  afterAll(() => h?.close());

  it('serves the vendor pipeline over https', async () => {
    expect(h.vendorUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await httpsGet(h.vendorUrl, TABLE, { ca: pki.ca, headers: { authorization: `Bearer ${await h.token('geheim')}` } });
    expect(res.status).toBe(200);
    expect(res.json().id).toBe(DEMO_TABLE_ID);
  });

  it('does not answer plain HTTP on the TLS port', async () => {
    const allowedBefore = h.audit.requestRecords().filter((r) => r.metagate.decision === 'allow').length;
    const upstreamBefore = h.upstream.requests.length;
    const res = await request(h.vendorUrl.replace('https:', 'http:'), TABLE).then(
      (r) => r.status,
      (err: NodeJS.ErrnoException) => err.code ?? 'error',
    );
    // node's TLS server answers plain HTTP with "400 Bad Request" or closes; never the pipeline
    expect([400, 'ECONNRESET', 'HPE_INVALID_CONSTANT']).toContain(res);
    expect(h.audit.requestRecords().filter((r) => r.metagate.decision === 'allow').length).toBe(allowedBefore);
    expect(h.upstream.requests.length).toBe(upstreamBefore);
  });

  it('refuses a client that does not trust the server certificate (no silent downgrade)', async () => {
    await expect(httpsGet(h.vendorUrl, TABLE, { ca: pki.rogueCa })).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('serves the admin listener over https', async () => {
    expect(h.adminUrl).toMatch(/^https:/);
    const health = await httpsGet(h.adminUrl, '/healthz', { ca: pki.ca });
    expect(health.status).toBe(200);
    expect(health.json()).toEqual({ status: 'ok' });
    const ready = await httpsGet(h.adminUrl, '/readyz', { ca: pki.ca });
    expect(ready.status).toBe(200);
  });

  // Review finding: over TLS the half-close fix did nothing (TLS sockets are not half-open by default): a client that
  // sent its request and closed its side got no answer.
  it('answers a client that half-closes after its request', async () => {
    const port = Number(new URL(h.vendorUrl).port);
    const token = await h.token('geheim');
    const raw = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(pki.ca), servername: 'localhost' });
      const chunks: Buffer[] = [];
      s.on('secureConnect', () => s.end(`GET ${TABLE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`));
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      s.on('error', reject);
      setTimeout(() => s.destroy(), 5_000);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    expect(raw).toContain(DEMO_TABLE_ID);
  });

  it('refuses TLS 1.1 and older', async () => {
    const port = Number(new URL(h.vendorUrl).port);
    const outcome = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(pki.ca), minVersion: 'TLSv1', maxVersion: 'TLSv1.1' });
      s.on('secureConnect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(outcome).not.toBe('connected');
  });
});

describe('mTLS with certificate-bound tokens (RFC 8705)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      configure: (c) => {
        c.vendor.tls = { certFile: pki.server.cert, keyFile: pki.server.key, clientCaFile: pki.ca, requireClientCert: true, requireCertificateBoundTokens: true };
      },
    });
  });
  afterAll(() => h?.close());

  const bound = (certFile: string) => h.issuer.mint({ ...geheim(), cnf: { 'x5t#S256': thumbprint(certFile) } });

  it('refuses a client without a certificate at the handshake; nothing reaches the pipeline', async () => {
    const before = h.audit.lines.length;
    const upstreamBefore = h.upstream.requests.length;
    const err = await httpsGet(h.vendorUrl, TABLE, { ca: pki.ca, headers: { authorization: `Bearer ${await bound(pki.clientA.cert)}` } }).then(
      () => null,
      (e: NodeJS.ErrnoException) => e,
    );
    // TLS 1.3: the client finishes its half of the handshake, then reads the server's "certificate required" alert
    expect(err?.code).toMatch(/^(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ECONNRESET|EPIPE)$/);
    expect(h.upstream.requests.length).toBe(upstreamBefore);
    // the refused handshake is still on the audit trail: one denial, no identity, the TLS error named
    const recs = h.audit.records().slice(before);
    expect(recs).toHaveLength(1);
    expect(recs[0]).not.toHaveProperty('user');
    expect(recs[0]!.metagate).toMatchObject({ decision: 'deny', reasons: ['request_rejected'], detail: expect.stringContaining('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') });
  });

  it('refuses a client certificate from an unknown CA at the handshake', async () => {
    const err = await httpsGet(h.vendorUrl, TABLE, { ca: pki.ca, client: pki.rogueClient, headers: { authorization: `Bearer ${await bound(pki.rogueClient.cert)}` } }).then(
      () => null,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(err?.code).toMatch(/^(ERR_SSL_TLSV1_ALERT_UNKNOWN_CA|ECONNRESET|EPIPE)$/);
  });

  it('allows a token bound to the certificate presented', async () => {
    const before = h.audit.requestRecords().length;
    const res = await httpsGet(h.vendorUrl, TABLE, { ca: pki.ca, client: pki.clientA, headers: { authorization: `Bearer ${await bound(pki.clientA.cert)}` } });
    expect(res.status).toBe(200);
    expect(res.json().id).toBe(DEMO_TABLE_ID);
    const rec = await lastRequestRecord(h, before + 1);
    expect(rec.metagate.decision).toBe('allow');
  });

  it('refuses the same token presented with another (trusted) client certificate', async () => {
    const token = await bound(pki.clientA.cert);
    const upstreamBefore = h.upstream.requests.length;
    const before = h.audit.requestRecords().length;
    const res = await httpsGet(h.vendorUrl, TABLE, { ca: pki.ca, client: pki.clientB, headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ code: 'certificate_binding_invalid', detail: 'the token is bound to a different client certificate' });
    expect(h.upstream.requests.length).toBe(upstreamBefore);
    const rec = await lastRequestRecord(h, before + 1);
    expect(rec.metagate).toMatchObject({ decision: 'deny', reasons: ['certificate_binding_invalid'] });
  });

  it('refuses a token without cnf when binding is required', async () => {
    const res = await httpsGet(h.vendorUrl, TABLE, { ca: pki.ca, client: pki.clientA, headers: { authorization: `Bearer ${await h.token('geheim')}` } });
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ code: 'certificate_binding_invalid' });
  });

  it.each([
    ['cnf is a string', 'not-an-object'],
    ['cnf is an array', [{ 'x5t#S256': 'x' }]],
    ['x5t#S256 is a number', { 'x5t#S256': 42 }],
    ['only a SHA-1 thumbprint (x5t)', { x5t: 'abc' }],
  ])('refuses a malformed binding: %s', async (_name, cnf) => {
    const token = await h.issuer.mint({ ...geheim(), cnf });
    const res = await httpsGet(h.vendorUrl, TABLE, { ca: pki.ca, client: pki.clientA, headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(401);
    expect(res.json().code).toBe('certificate_binding_invalid');
  });

  /** Connect with client A over TLS 1.2, optionally try to renegotiate, then send a request bound to A on that connection. */
  const requestAfter = async (renegotiate: boolean): Promise<string> => {
    const port = Number(new URL(h.vendorUrl).port);
    const token = await bound(pki.clientA.cert);
    return new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(pki.ca), cert: readFileSync(pki.clientA.cert), key: readFileSync(pki.clientA.key), maxVersion: 'TLSv1.2' });
      let got = '';
      const finish = (what: string) => {
        clearTimeout(timer);
        s.destroy();
        resolve(what);
      };
      const timer = setTimeout(() => finish(got ? got.split('\r\n')[0]! : 'no answer'), 2000);
      s.on('data', (c: Buffer) => {
        got += c.toString('latin1');
        if (/^HTTP\/1\.1 200/.test(got)) finish('HTTP/1.1 200 OK');
      });
      s.on('error', () => {});
      s.on('close', () => finish(got ? got.split('\r\n')[0]! : 'closed'));
      s.on('secureConnect', () => {
        if (renegotiate) s.renegotiate({ rejectUnauthorized: true }, () => {});
        setTimeout(() => s.write(`GET ${TABLE} HTTP/1.1\r\nhost: gateway\r\nauthorization: Bearer ${token}\r\n\r\n`), 200);
      });
    });
  };

  it('serves a request on a TLS 1.2 connection (control for the renegotiation test)', async () => {
    expect(await requestAfter(false)).toBe('HTTP/1.1 200 OK');
  });

  it('refuses TLS renegotiation: nothing more is served on that connection, and the refusal is audited', async () => {
    const before = h.audit.lines.length;
    const outcome = await requestAfter(true);
    expect(outcome).not.toMatch(/ 200 /);
    const recs = h.audit.records().slice(before);
    expect(recs.filter((r) => (r.metagate as { decision: string }).decision === 'allow')).toHaveLength(0);
    expect(recs.some((r) => String((r.metagate as { detail?: string }).detail).includes('ERR_TLS_RENEGOTIATION_DISABLED'))).toBe(true);
    // the server dropped the connection: none is left open on the vendor listener
    const open = await new Promise<number>((r) => h.gateway.vendor.server.getConnections((_e, n) => r(n)));
    expect(open).toBe(0);
  });
});

describe('mTLS without binding', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      configure: (c) => {
        c.vendor.tls = { certFile: pki.server.cert, keyFile: pki.server.key, clientCaFile: pki.ca, requireClientCert: true };
      },
    });
  });
  afterAll(() => h?.close());

  it('accepts an unbound token from a client with a trusted certificate', async () => {
    const res = await httpsGet(h.vendorUrl, TABLE, { ca: pki.ca, client: pki.clientB, headers: { authorization: `Bearer ${await h.token('geheim')}` } });
    expect(res.status).toBe(200);
  });
});

describe('upstream over TLS with a configured CA bundle', () => {
  let h: Harness;
  let trusted: Awaited<ReturnType<typeof startTlsFront>>;
  let rogue: Awaited<ReturnType<typeof startTlsFront>>;
  let noCa: Harness;
  let rogueHarness: Harness;

  beforeAll(async () => {
    // each harness has its own demo platform; the TLS fronts forward to the first harness' plain upstream
    h = await startHarness({ configure: (c) => void (c.upstream.caFile = pki.ca) });
    trusted = await startTlsFront(h.upstream.url, pki.server);
    rogue = await startTlsFront(h.upstream.url, pki.rogueServer);
    rogueHarness = await startHarness({ configure: (c) => Object.assign(c.upstream, { url: rogue.url, caFile: pki.ca }) });
    noCa = await startHarness({ configure: (c) => void (c.upstream.url = trusted.url) });
  });
  afterAll(async () => {
    await noCa?.close();
    await rogueHarness?.close();
    await rogue?.close();
    await trusted?.close();
    await h?.close();
  });

  it('forwards to an https upstream whose certificate the configured CA signed', async () => {
    const gw = await startHarness({ configure: (c) => Object.assign(c.upstream, { url: trusted.url, caFile: pki.ca }) });
    try {
      const before = trusted.hits;
      const res = await request(gw.vendorUrl, TABLE, { headers: { authorization: `Bearer ${await gw.token('geheim')}` } });
      expect(res.status).toBe(200);
      expect(res.json().id).toBe(DEMO_TABLE_ID);
      expect(trusted.hits).toBe(before + 1);
    } finally {
      await gw.close();
    }
  });

  it('refuses (502) an upstream whose certificate an unknown CA signed; nothing is sent to it', async () => {
    const before = rogueHarness.audit.requestRecords().length;
    const res = await request(rogueHarness.vendorUrl, TABLE, { headers: { authorization: `Bearer ${await rogueHarness.token('geheim')}` } });
    expect(res.status).toBe(502);
    expect(res.json().code).toBe('upstream_error');
    expect(res.body).not.toMatch(/127\.0\.0\.1|certificate|CERT/i);
    expect(rogue.hits).toBe(0);
    expect((await lastRequestRecord(rogueHarness, before + 1)).metagate).toMatchObject({ decision: 'deny', reasons: ['upstream_error'] });
  });

  it('without a CA bundle, uses only the system trust store: a private CA is not trusted', async () => {
    const res = await request(noCa.vendorUrl, TABLE, { headers: { authorization: `Bearer ${await noCa.token('geheim')}` } });
    expect(res.status).toBe(502);
    expect(res.json().code).toBe('upstream_error');
  });
});
