// Review 9 (F71): a TLS connection still in its handshake is in no connection list node or the drain knows, and node
// waits 120 s for a handshake by default: such a connection held the shutdown past vendor.shutdownGraceMs (F63 for TLS)
// and, while serving, lived 120 s. The handshake is now bounded by vendor.headersTimeoutMs.

import net from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';
import { createPki, type Pki } from './pki.js';

/**
 * How long the gateway takes to shut down while a client holds a connection to `port` on which it sends nothing (the
 * TLS handshake never starts); Infinity past 15 s.
 */
async function shutdownMsWithSilentConnection(h: Harness, port: number): Promise<number> {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => undefined);
  await new Promise<void>((r) => sock.once('connect', () => r()));
  await new Promise((r) => setTimeout(r, 100));
  const t0 = performance.now();
  const closed = h.close().then(() => performance.now() - t0);
  const ms = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(Infinity), 15_000))]);
  sock.destroy();
  await closed;
  return ms;
}

let pki: Pki;
beforeAll(() => { pki = createPki(); });
afterAll(() => pki?.remove());

test('a TLS connection that never completes its handshake does not hold the drain past the grace period', async () => {
  const h = await startHarness({ configure: (c) => {
    c.vendor.tls = { certFile: pki.server.cert, keyFile: pki.server.key };
    Object.assign(c.vendor, { headersTimeoutMs: 1000, requestTimeoutMs: 2000, shutdownGraceMs: 8000 });
  } });
  expect(await shutdownMsWithSilentConnection(h, h.vendorPort)).toBeLessThan(5_000);
}, 30_000);

// The admin listener had node's 120 s default too: a connection to the admin port that never completes its handshake
// held the shutdown (the admin listener closes after the vendor one) long past vendor.shutdownGraceMs.
test('a TLS connection to the admin port that never completes its handshake does not hold the shutdown', async () => {
  const h = await startHarness({ configure: (c) => {
    c.admin.tls = { certFile: pki.server.cert, keyFile: pki.server.key };
    Object.assign(c.vendor, { headersTimeoutMs: 1000, requestTimeoutMs: 2000, shutdownGraceMs: 3000 });
  } });
  expect(await shutdownMsWithSilentConnection(h, Number(new URL(h.adminUrl).port))).toBeLessThan(5_000);
}, 30_000);
