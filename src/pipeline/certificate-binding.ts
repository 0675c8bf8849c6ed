// Part of stage 3 under mTLS: RFC 8705 certificate-bound tokens (cnf["x5t#S256"] = the client certificate's thumbprint).

import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Runtime } from '../config/load.js';

const thumbprints = new WeakMap<Socket, string | null>();

/** base64url SHA-256 of the DER client certificate on this connection, or null when there is none. */
export function clientCertThumbprint(socket: Socket): string | null {
  const known = thumbprints.get(socket);
  if (known !== undefined) return known;
  const tls = socket as TLSSocket;
  const cert = typeof tls.getPeerCertificate === 'function' ? tls.getPeerCertificate(false) : null;
  const value = cert && cert.raw && cert.raw.length > 0 ? createHash('sha256').update(cert.raw).digest('base64url') : null;
  thumbprints.set(socket, value);
  return value;
}

/** Returns why the token's certificate binding fails, or null when binding is not required or holds. */
export function certificateBindingProblem(rt: Runtime, socket: Socket, payload: Record<string, unknown>): string | null {
  if (!rt.config.vendor.tls?.requireCertificateBoundTokens) return null;
  const thumb = clientCertThumbprint(socket);
  if (!thumb) return 'a client certificate is required for certificate-bound tokens';
  const cnf = Object.hasOwn(payload, 'cnf') ? payload.cnf : undefined;
  if (!cnf || typeof cnf !== 'object' || Array.isArray(cnf)) return 'the token is not certificate-bound (no "cnf" claim)';
  const bound = Object.hasOwn(cnf, 'x5t#S256') ? (cnf as Record<string, unknown>)['x5t#S256'] : undefined;
  if (typeof bound !== 'string') return 'the token is not certificate-bound (no cnf["x5t#S256"])';
  if (bound !== thumb) return 'the token is bound to a different client certificate';
  return null;
}
