// The audit trail: one hash-chained JSON line per decision and per admin action, written through pino.

import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import pino from 'pino';
import type { DenyReason } from '../policy/reasons.js';

export const GENESIS = '0'.repeat(64);
export const CHAIN_MARKER = ',"chain":{';

/** ECS-compatible field names where ECS has one; gateway-specific fields under `metagate`. */
export interface RequestAuditRecord {
  '@timestamp': string;
  event: { kind: 'event'; category: 'web'; action: 'vendor_request'; outcome: 'success' | 'failure'; duration: number };
  http: { request: { id: string; method: string }; response: { status_code: number } };
  url: { path: string | null };
  source: { ip: string };
  user?: { id: string };
  metagate: {
    decision: 'allow' | 'deny';
    reasons: DenyReason[];
    detail?: string;
    rule?: string;
    category?: string;
    nationality?: string;
    clearance?: string;
    clearance_expires_at?: string;
    org?: string;
    token_id?: string;
    token_fingerprint?: string;
    upstream_status?: number;
    upstream_ms?: number;
    fields_removed?: Record<string, number>;
    response_bytes?: number;
    config_hash: string;
  };
}

export interface AdminAuditRecord {
  '@timestamp': string;
  event: { kind: 'event'; category: 'configuration'; action: string; outcome: 'success' | 'failure' };
  user: { name: string };
  source: { ip: string };
  http?: { request: { id: string; method: string } };
  metagate: { admin: Record<string, unknown>; config_hash: string };
}

export type AuditRecord = RequestAuditRecord | AdminAuditRecord;

export interface AuditTrailOptions {
  /** 'stdout', a file path, or a stream (tests) */
  destination: string | Writable;
  onWriteError?: (err: Error) => void;
}

/** Hash of one record: sha256 over the previous hash, the sequence number and the record's text. */
export function chainHash(prev: string, seq: number, body: string): string {
  return createHash('sha256').update(prev).update('\n').update(String(seq)).update('\n').update(body).digest('hex');
}

function lastLineOf(file: string): string | null {
  if (!existsSync(file)) return null;
  const size = statSync(file).size;
  if (size === 0) return null;
  const fd = openSync(file, 'r');
  try {
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const text = buf.toString('utf8').replace(/\n+$/, '');
    return text.slice(text.lastIndexOf('\n') + 1) || null;
  } finally {
    closeSync(fd);
  }
}

/** The chain position to continue from when appending to an existing file. */
function resumePoint(file: string): { prev: string; seq: number } {
  const line = lastLineOf(file);
  if (!line) return { prev: GENESIS, seq: 0 };
  const at = line.lastIndexOf(CHAIN_MARKER);
  if (at === -1) return { prev: GENESIS, seq: 0 };
  try {
    const chain = JSON.parse(line.slice(at + CHAIN_MARKER.length - 1, -1)) as { seq: number; hash: string };
    return { prev: chain.hash, seq: chain.seq };
  } catch {
    return { prev: GENESIS, seq: 0 };
  }
}

export class AuditTrail {
  private readonly logger: pino.Logger;
  private readonly stream: pino.DestinationStream & { on?: (event: 'error', listener: (err: Error) => void) => unknown };
  private prev: string;
  private seq: number;
  private failed: Error | null = null;
  written = 0;

  constructor(opts: AuditTrailOptions) {
    if (typeof opts.destination === 'string') {
      const dest = opts.destination === 'stdout' ? 1 : opts.destination;
      const start = typeof dest === 'string' ? resumePoint(dest) : { prev: GENESIS, seq: 0 };
      this.prev = start.prev;
      this.seq = start.seq;
      this.stream = pino.destination({ dest, sync: false, mkdir: true, minLength: 0 });
    } else {
      this.prev = GENESIS;
      this.seq = 0;
      this.stream = opts.destination as unknown as pino.DestinationStream;
    }
    const onError = (err: Error) => {
      this.failed = err;
      opts.onWriteError?.(err);
    };
    this.stream.on?.('error', onError);
    this.logger = pino(
      {
        base: null,
        timestamp: false,
        formatters: { level: () => ({}) },
        hooks: { streamWrite: (s: string) => this.link(s) },
      },
      this.stream,
    );
  }

  /** Insert the chain fields at the end of the serialised record. */
  private link(line: string): string {
    // pino opens the object with its level chunk; with the level suppressed that leaves "{," to repair
    const text = line.startsWith('{,') ? `{${line.slice(2)}` : line;
    const body = text.endsWith('}\n') ? text.slice(0, -2) : text.replace(/\}\s*$/, '');
    const seq = ++this.seq;
    const hash = chainHash(this.prev, seq, body);
    const out = `${body}${CHAIN_MARKER}"seq":${seq},"prev":"${this.prev}","hash":"${hash}"}}\n`;
    this.prev = hash;
    return out;
  }

  get healthy(): boolean {
    return this.failed === null;
  }

  get lastError(): Error | null {
    return this.failed;
  }

  write(record: AuditRecord): void {
    this.written++;
    this.logger.info(record);
  }

  /** Flush buffered records to the destination (used at shutdown). */
  flush(): Promise<void> {
    return new Promise((resolve) => {
      this.logger.flush(() => resolve());
    });
  }
}
