// Sign a token whose payload is given as raw JSON text (duplicate keys, odd numbers, escapes), with the harness's
// issuer key, so the gateway's strict parsing is tested on exactly the bytes an attacker would send.

import { webcrypto } from 'node:crypto';
import type { DevIssuer } from '../../src/demo/issuer.js';

const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64url');

export async function signRawPayload(issuer: DevIssuer, payloadText: string, kid = 'test-key-1'): Promise<string> {
  const input = `${b64(JSON.stringify({ alg: 'ES256', kid, typ: 'at+jwt' }))}.${b64(payloadText)}`;
  const sig = await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, issuer.privateKey as unknown as webcrypto.CryptoKey, Buffer.from(input));
  return `${input}.${b64(new Uint8Array(sig))}`;
}
