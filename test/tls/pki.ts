// A throw-away PKI made with openssl at test time: a CA, a server certificate for 127.0.0.1, client certificates,
// and a second, unknown CA with its own server and client certificates.

import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  /** the CA the gateway trusts (client CA bundle, upstream CA bundle) */
  ca: string;
  server: CertFiles;
  clientA: CertFiles;
  clientB: CertFiles;
  /** a CA nobody configured, with a server and a client certificate of its own */
  rogueCa: string;
  rogueServer: CertFiles;
  rogueClient: CertFiles;
  read(file: string): Buffer;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}

let serial = 1000;

function issue(dir: string, ca: { cert: string; key: string }, name: string, usage: 'serverAuth' | 'clientAuth'): CertFiles {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  const san = usage === 'serverAuth' ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' : `subjectAltName=email:${name}@vendor.example\n`;
  writeFileSync(ext, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${usage}\n${san}`);
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  openssl(dir, ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', String(serial++), '-out', cert, '-days', '2', '-extfile', ext]);
  return { cert, key };
}

export function createPki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'metagate-pki-'));
  const ca = makeCa(dir, 'test-ca');
  const rogue = makeCa(dir, 'rogue-ca');
  return {
    dir,
    ca: ca.cert,
    server: issue(dir, ca, 'server', 'serverAuth'),
    clientA: issue(dir, ca, 'client-a', 'clientAuth'),
    clientB: issue(dir, ca, 'client-b', 'clientAuth'),
    rogueCa: rogue.cert,
    rogueServer: issue(dir, rogue, 'rogue-server', 'serverAuth'),
    rogueClient: issue(dir, rogue, 'rogue-client', 'clientAuth'),
    read: (file) => readFileSync(file),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** RFC 8705 x5t#S256: base64url SHA-256 of the certificate's DER encoding. */
export function thumbprint(certFile: string): string {
  const der = new X509Certificate(readFileSync(certFile)).raw;
  return createHash('sha256').update(der).digest('base64url');
}
