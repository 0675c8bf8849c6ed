// The audit trail: one hash-chained JSON line per decision and per admin action, appended to a file (one synchronous
// write per turn of the event loop, append-file.ts) or written to stdout through pino's destination (sonic-boom).

import { hash } from 'node:crypto';
import { appendFileSync, closeSync, fstatSync, fsync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import pino from 'pino';
import type { DenyReason } from '../policy/reasons.js';
import { AppendFile } from './append-file.js';
import { integerText } from './number-text.js';

export const GENESIS = '0'.repeat(64);
export const CHAIN_MARKER = ',"chain":{';

/** ECS-compatible field names where ECS has one; gateway-specific fields under `metagate`. */
export interface RequestAuditRecord {
  '@timestamp': string;
  event: { kind: 'event'; category: 'web'; action: 'vendor_request'; outcome: 'success' | 'failure'; duration: number };
  http: { request: { id: string; method: string }; response: { status_code: number } };
  /** `original`: only when there is no canonical path — the target as sent, without its query (recordedTarget) */
  url: { path: string | null; original?: string };
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

/** Strings JSON.stringify writes as they are, between quotes: no quote, backslash, control character or surrogate. */
const PLAIN_STRING_RE = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;
/**
 * A JSON value as JSON.stringify writes it; a value JSON cannot write (undefined) becomes null so the line stays JSON.
 * Most strings need no escaping: they are quoted directly, which costs less than half of JSON.stringify.
 */
const str = (v: unknown): string => (typeof v === 'string' && PLAIN_STRING_RE.test(v) ? `"${v}"` : (JSON.stringify(v) ?? 'null'));
/**
 * A JSON number; JSON has no NaN or Infinity (JSON.stringify writes null for them). Integers (a duration in
 * nanoseconds differs on every request) are written without V8's number-to-string cache (number-text.ts).
 */
const num = (n: number): string => (Number.isFinite(n) ? integerText(n) : 'null');

/**
 * `num(n)` for a number of milliseconds kept to three decimals (the record's upstream_ms), without the general
 * double-to-text conversion. When n is exactly the double nearest to k/1000 for an integer k below 10^9, its shortest
 * text is k/1000 written out with the trailing zeros dropped: no shorter decimal of at most nine significant digits
 * can round to the same double. Anything else goes the general way.
 */
export function millis(n: number): string {
  const k = Math.round(n * 1000);
  if (!(k > 0 && k < 1e9 && k / 1000 === n)) return num(n);
  const whole = Math.floor(k / 1000);
  let frac = k - whole * 1000;
  if (frac === 0) return String(whole);
  let digits = frac < 10 ? '00' : frac < 100 ? '0' : '';
  while (frac % 10 === 0) frac /= 10;
  digits += frac;
  return `${whole}.${digits}`;
}

/** The identity part of the last record (the same for every request of one token): its values and their JSON. */
let lastIdentity: { nat?: string; cl?: string; exp?: string; org?: string; jti?: string; fp?: string; json: string } = { json: '' };

/** `,"nationality":…,"token_fingerprint":…` for these values, written once per run of requests with the same ones. */
function identityJson(m: RequestAuditRecord['metagate']): string {
  const l = lastIdentity;
  if (l.nat === m.nationality && l.cl === m.clearance && l.exp === m.clearance_expires_at && l.org === m.org && l.jti === m.token_id && l.fp === m.token_fingerprint) return l.json;
  let s = '';
  if (m.nationality !== undefined) s += `,"nationality":${str(m.nationality)}`;
  if (m.clearance !== undefined) s += `,"clearance":${str(m.clearance)}`;
  if (m.clearance_expires_at !== undefined) s += `,"clearance_expires_at":${str(m.clearance_expires_at)}`;
  if (m.org !== undefined) s += `,"org":${str(m.org)}`;
  if (m.token_id !== undefined) s += `,"token_id":${str(m.token_id)}`;
  if (m.token_fingerprint !== undefined) s += `,"token_fingerprint":${str(m.token_fingerprint)}`;
  lastIdentity = { nat: m.nationality, cl: m.clearance, exp: m.clearance_expires_at, org: m.org, jti: m.token_id, fp: m.token_fingerprint, json: s };
  return s;
}

/**
 * One vendor-request record as JSON: exactly the text `JSON.stringify(record)` gives for the shape buildRecord
 * makes (same keys, same order; test/observability/audit-json.test.ts checks it on generated records), written out
 * field by field because it runs once per request and the generic serialiser costs more than twice as much.
 * Free text (path, ids, names, details) goes through str(); only values from closed sets are written as they
 * are, and those are re-checked to be plain tokens.
 */
export function requestRecordJson(r: RequestAuditRecord): string {
  return `${requestRecordOpen(r)}}`;
}

/** requestRecordJson without its closing brace: the trail inserts the chain fields there. */
function requestRecordOpen(r: RequestAuditRecord): string {
  const e = r.event;
  const m = r.metagate;
  const head = e.kind === 'event' && e.category === 'web' && e.action === 'vendor_request' ? VENDOR_EVENT_HEAD : `"kind":${str(e.kind)},"category":${str(e.category)},"action":${str(e.action)}`;
  let s = `{"@timestamp":${str(r['@timestamp'])},"event":{${head},"outcome":${token(e.outcome)},"duration":${num(e.duration)}},"http":{"request":{"id":${str(r.http.request.id)},"method":${token(r.http.request.method)}},"response":{"status_code":${num(r.http.response.status_code)}}},"url":{"path":${r.url.path === null ? 'null' : str(r.url.path)}${r.url.original === undefined ? '' : `,"original":${str(r.url.original)}`}},"source":{"ip":${str(r.source.ip)}},"metagate":{"decision":${token(m.decision)},"reasons":${m.reasons.length === 0 ? '[]' : str(m.reasons)},"config_hash":${str(m.config_hash)}`;
  if (m.detail !== undefined) s += `,"detail":${str(m.detail)}`;
  if (m.rule !== undefined) s += `,"rule":${str(m.rule)}`;
  if (m.category !== undefined) s += `,"category":${str(m.category)}`;
  s += identityJson(m);
  if (m.upstream_status !== undefined) s += `,"upstream_status":${num(m.upstream_status)}`;
  if (m.upstream_ms !== undefined) s += `,"upstream_ms":${millis(m.upstream_ms)}`;
  if (m.fields_removed !== undefined) s += `,"fields_removed":${str(m.fields_removed)}`;
  if (m.response_bytes !== undefined) s += `,"response_bytes":${num(m.response_bytes)}`;
  s += '}';
  if (r.user !== undefined) s += `,"user":{"id":${str(r.user.id)}}`;
  return s;
}

/**
 * requestRecordOpen for a record the trail serialises at the end of its turn, where a failure has no caller left to
 * tell: a record the field-by-field writer cannot write (none buildRecord makes) is written by the generic serialiser,
 * or as a line that says so, rather than lost with the rest of its turn by an exception in a setImmediate (F84).
 */
function queuedRecordOpen(r: RequestAuditRecord): string {
  try {
    return requestRecordOpen(r);
  } catch {
    try {
      const json = JSON.stringify(r);
      if (typeof json === 'string' && json.endsWith('}')) return json.slice(0, -1);
    } catch {
      // not JSON either (a BigInt, a cycle): the line below
    }
    const id = (r as { http?: { request?: { id?: unknown } } } | null)?.http?.request?.id;
    return `{"event":{${VENDOR_EVENT_HEAD},"outcome":"failure"},"http":{"request":{"id":${typeof id === 'string' ? JSON.stringify(id) : 'null'}}},"metagate":{"error":"the record could not be serialised"}`;
  }
}

const VENDOR_EVENT_HEAD = '"kind":"event","category":"web","action":"vendor_request"';
const TOKEN_RE = /^[A-Za-z_]+$/;
/** A value from a closed set (outcome, method label, decision): quoted as it is when it is a plain word. */
const token = (v: string): string => (TOKEN_RE.test(v) ? `"${v}"` : str(v));

export interface AuditTrailOptions {
  /** 'stdout', a file path, or a stream (tests) */
  destination: string | Writable;
  onWriteError?: (err: Error) => void;
}

/** The start of the second isoNow() last wrote, and its ISO text up to the milliseconds ("2026-12-02T02:54:07."). */
let isoSecond = Number.NaN;
let isoPrefix = '';

/**
 * `new Date(ms).toISOString()` for a time in whole milliseconds, at a fraction of its cost: the text up to the seconds
 * is made once per second. Times whose text has another shape (years before 0 or after 9999) are written in full.
 */
export function isoAt(ms: number): string {
  const rest = ms % 1000;
  const second = ms - (rest < 0 ? rest + 1000 : rest);
  if (second !== isoSecond) {
    const text = new Date(second).toISOString();
    if (text.length !== 24) return new Date(ms).toISOString();
    isoSecond = second;
    isoPrefix = text.slice(0, 20);
  }
  const m = ms - second;
  return `${isoPrefix}${m < 10 ? '00' : m < 100 ? '0' : ''}${m}Z`;
}

/** The audit records' '@timestamp': now, as `new Date().toISOString()` writes it. */
export function isoNow(): string {
  return isoAt(Date.now());
}

/** What a record's hash input holds before its text: the previous hash and the sequence number, each on a line. */
export function chainPrefix(prev: string, seq: number): string {
  return prefixWith(prev, integerText(seq));
}

/** chainPrefix with the sequence number's text already made (the trail writes it into the line's chain fields too). */
const prefixWith = (prev: string, seqText: string): string => `${prev}\n${seqText}\n`;

/** Hash of one record: sha256 over the previous hash, the sequence number and the record's text. */
export function chainHash(prev: string, seq: number, body: string): string {
  return hash('sha256', `${chainPrefix(prev, seq)}${body}`, 'hex');
}

const TAIL_BYTES = 256 * 1024;

/** The chain fields of one serialised record, or null when the line carries none. */
export function chainOf(line: string): { seq: number; prev: string; hash: string } | null {
  const at = line.lastIndexOf(CHAIN_MARKER);
  if (at === -1 || !line.endsWith('}}')) return null;
  try {
    const c = JSON.parse(line.slice(at + CHAIN_MARKER.length - 1, -1)) as { seq?: unknown; prev?: unknown; hash?: unknown };
    if (!Number.isSafeInteger(c.seq) || typeof c.prev !== 'string' || typeof c.hash !== 'string' || !/^[0-9a-f]{64}$/.test(c.hash)) return null;
    return { seq: c.seq as number, prev: c.prev, hash: c.hash };
  } catch {
    return null;
  }
}

/**
 * The last complete line of a file that carries chain fields (a torn line closed by an earlier start carries none, and
 * must not restart the chain at genesis), and whether the file ends in the middle of a line (a write cut short).
 * `line` is null when the file's tail holds no complete line at all; `chain` is null when none of its lines has chain
 * fields.
 */
function tailOf(file: string): { line: string | null; chain: { seq: number; prev: string; hash: string } | null; partial: boolean } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return { line: null, chain: null, partial: false };
  }
  try {
    const st = fstatSync(fd);
    // not a regular file (a directory, a FIFO): nothing to resume from; opening it for writing will fail loudly
    if (!st.isFile() || st.size === 0) return { line: null, chain: null, partial: false };
    const size = st.size;
    const len = Math.min(size, TAIL_BYTES);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const text = buf.toString('utf8');
    const partial = !text.endsWith('\n');
    // drop an unfinished last line: the chain continues from the last record that was written whole. A write cut
    // exactly before its newline left a whole record (its chain fields end the line): that one counts, and the start
    // closes it with the newline like any torn line
    const whole = partial && chainOf(text.slice(text.lastIndexOf('\n') + 1)) !== null;
    const complete = partial && !whole ? text.slice(0, text.lastIndexOf('\n') + 1) : text;
    const trimmed = complete.replace(/\n+$/, '');
    if (trimmed === '') return { line: null, chain: null, partial };
    const line = trimmed.slice(trimmed.lastIndexOf('\n') + 1);
    // the chain continues from the last whole record, past any torn line an earlier start closed with a newline
    let end = trimmed.length;
    while (end > 0) {
      const start = trimmed.lastIndexOf('\n', end - 1) + 1;
      const c = chainOf(trimmed.slice(start, end));
      if (c) return { line, chain: c, partial };
      end = start - 1;
    }
    return { line, chain: null, partial };
  } finally {
    closeSync(fd);
  }
}

export interface ResumePoint {
  prev: string;
  seq: number;
  /** the file the chain continues from: the destination itself, a rotated sibling, or null for genesis */
  from: string | null;
}

/**
 * Rotated segments of `file`: siblings named `<name>.<suffix>` or `<name>-<suffix>` (logrotate's numbered and
 * dateext styles). Compressed segments are skipped: their last record cannot be read.
 */
export function rotatedSiblings(file: string): string[] {
  const dir = dirname(file);
  const name = basename(file);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries
    .filter((e) => e !== name && (e.startsWith(`${name}.`) || e.startsWith(`${name}-`)) && !/\.(gz|bz2|xz|zst|zip)$/.test(e))
    .map((e) => join(dir, e))
    .filter((p) => {
      try {
        return statSync(p).isFile();
      } catch {
        return false;
      }
    });
}

/**
 * Where to continue the chain when appending to `file`: its own last record; if it is new or empty, the last
 * record of the newest rotated segment (highest sequence number), so `audit verify old new` holds across a
 * rotation; otherwise genesis.
 */
export function resumePoint(file: string): ResumePoint {
  const own = tailOf(file);
  if (own.chain !== null) return { prev: own.chain.hash, seq: own.chain.seq, from: file };
  // no record with chain fields in the file (new, empty, or only a torn line an earlier start closed): the chain
  // continues from the newest rotated segment, as for a new file
  let best: ResumePoint = { prev: GENESIS, seq: 0, from: null };
  for (const sibling of rotatedSiblings(file)) {
    const c = tailOf(sibling).chain;
    if (c && c.seq > best.seq) best = { prev: c.hash, seq: c.seq, from: sibling };
  }
  return best;
}

/** Whether the path names a pipe (following symbolic links, as /dev/stdout is one). */
function isFifo(path: string): boolean {
  try {
    return statSync(path).isFIFO();
  } catch {
    return false;
  }
}

interface FileStream extends pino.DestinationStream {
  on(event: string, listener: (...args: never[]) => void): unknown;
  once(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  readonly fd: number;
  readonly destroyed: boolean;
  reopen(): void;
  flush(cb?: (err?: Error) => void): void;
  flushSync(): void;
  end(): void;
  destroy(): void;
}

/**
 * Stop a failed destination for good, as pino itself does on EPIPE. SonicBoom (stdout) keeps a chunk whose write
 * failed and its synchronous flush (pino's process-exit hook) retries it forever on errors such as ENOSPC, so a gateway
 * whose disk filled up could never exit. Nothing is written to a failed trail again, so nothing needs to retry.
 */
function abandon(stream: FileStream): void {
  const s = stream as unknown as { write: (chunk: string) => boolean; flush: (cb?: (err?: Error) => void) => void; flushSync: () => void };
  s.write = () => true;
  s.flush = (cb) => cb?.();
  s.flushSync = () => {};
  // close the file if it was opened (an open that failed has nothing to close)
  if (stream.fd >= 0) {
    try {
      stream.destroy();
    } catch {
      // already closing
    }
  }
}

const DEFAULT_FLUSH_TIMEOUT_MS = 10_000;
/**
 * Records handed to a file or stdout are gathered into one batch per turn of the event loop and handed to the
 * destination at the end of that turn (or as soon as this many bytes are waiting). A file appends the batch at
 * once, with one synchronous write (append-file.ts); stdout's sonic-boom writes it at once or right after its current
 * write. Per record, either would cost more than the record's serialiser and hash together.
 */
export const BATCH_BYTES = 16 * 1024;
/** The batch's memory: room for a full batch and its last record; a batch that grew past MAX_KEPT is not kept. */
const BATCH_BUFFER_BYTES = 64 * 1024;
const MAX_KEPT_BATCH_BYTES = 1024 * 1024;
/** A line's bytes besides its text, at most: the hash prefix (64 + 2 + 16) or the chain fields (≈ 190). */
const LINE_OVERHEAD = 256;
/** …or as soon as this many vendor-request records are waiting to be linked (≈ 1 KB each). */
export const BATCH_RECORDS = 16;

/** File and stdout trails, for the process 'exit' hook (weakly held: a trail nobody uses can be collected). */
const liveTrails = new Set<WeakRef<AuditTrail>>();
let exitHookInstalled = false;

/**
 * On process exit (an uncaught exception, process.exit) the batch of the current turn would be lost: write it, and
 * whatever sonic-boom still holds, synchronously — as pino does for its own destinations.
 */
function writeLiveTrailsOnExit(): void {
  for (const ref of liveTrails) ref.deref()?.writeOnExit();
}

export class AuditTrail {
  private readonly stream: pino.DestinationStream & { on?: (event: 'error', listener: (err: Error) => void) => unknown };
  /** the destination the trail opened itself: a file (AppendFile, synchronous) or stdout (sonic-boom, asynchronous) */
  private readonly file: FileStream | null = null;
  /** the file path, when the destination is a file (it can be reopened) */
  private readonly path: string | null = null;
  private prev: string;
  private seq: number;
  private failed: Error | null = null;
  private closed = false;
  /** bytes handed to a file destination and not yet written */
  private pending = 0;
  /** where the chain was continued from at start (null: genesis) */
  readonly resumedFrom: string | null;
  /** whether the end-of-turn hand-over of the batch is scheduled */
  private handOverQueued = false;
  /**
   * lines linked into the chain and not yet handed to the destination (one batch), as UTF-8: bytes[0, used). The file
   * destination appends them before write() returns, so the same memory holds every turn's batch
   */
  private bytes = Buffer.allocUnsafe(BATCH_BUFFER_BYTES);
  private used = 0;
  /** vendor-request records written in this turn and not yet linked into the chain (they follow the batch) */
  private queued: RequestAuditRecord[] = [];
  private readonly ref = new WeakRef(this);
  private reported: Error | null = null;
  private readonly onWriteError: ((err: Error) => void) | undefined;
  /** records handed to the destination */
  written = 0;
  /** records not written because the trail had already failed or was closed */
  dropped = 0;

  constructor(opts: AuditTrailOptions) {
    let tornLineError: Error | null = null;
    if (typeof opts.destination === 'string' && opts.destination !== 'stdout') {
      const dest = opts.destination;
      // a pipe cannot be read back (opening one to read would wait for a writer): its chain starts at genesis, as
      // stdout's does
      const pipe = isFifo(dest);
      const start: ResumePoint = pipe ? { prev: GENESIS, seq: 0, from: null } : resumePoint(dest);
      // a write cut short (crash, full disk) left half a line: start on a fresh line so new records stay whole. A disk
      // that refuses even that fails the trail (503 audit_unavailable, readiness false), not the start
      if (!pipe && tailOf(dest).partial) {
        try {
          appendFileSync(dest, '\n');
        } catch (err) {
          tornLineError = err instanceof Error ? err : new Error(String(err));
        }
      }
      this.prev = start.prev;
      this.seq = start.seq;
      this.resumedFrom = start.from;
      this.path = dest;
      // a pipe (a FIFO, or /dev/stdout given as a path) can be full: a synchronous append would block the gateway until
      // its reader catches up, so it is written asynchronously, as stdout is
      this.file = pipe ? (pino.destination({ dest, sync: false, mkdir: true }) as unknown as FileStream) : (new AppendFile(dest) as unknown as FileStream);
      this.stream = this.file;
    } else if (opts.destination === 'stdout') {
      // stdout cannot be read back: every process start begins a new chain at genesis
      this.prev = GENESIS;
      this.seq = 0;
      this.resumedFrom = null;
      this.file = pino.destination({ dest: 1, sync: false }) as unknown as FileStream;
      this.stream = this.file;
    } else {
      this.prev = GENESIS;
      this.seq = 0;
      this.resumedFrom = null;
      this.stream = opts.destination as unknown as pino.DestinationStream;
    }
    // only an asynchronous destination (stdout, a pipe) holds bytes after write() returns; a file has appended them
    if (this.file !== null && !(this.file instanceof AppendFile)) {
      this.file.on('write', (n: number) => {
        this.pending -= n;
      });
    }
    this.onWriteError = opts.onWriteError;
    this.stream.on?.('error', (err: Error) => this.fail(err));
    if (tornLineError !== null) this.fail(tornLineError);
    if (this.file) {
      liveTrails.add(this.ref);
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.on('exit', writeLiveTrailsOnExit);
      }
    }
  }

  /**
   * The first failure is sticky: the trail stays unhealthy (readiness false, vendor traffic refused when
   * audit.failClosed) until the gateway is restarted; later records are counted as dropped, not buffered.
   */
  private fail(err: Error): void {
    // a destination may report the same error more than once: count every error once
    if (err === this.reported) return;
    this.reported = err;
    if (this.failed === null) {
      this.failed = err;
      liveTrails.delete(this.ref);
      if (this.file) abandon(this.file);
    }
    this.onWriteError?.(err);
  }

  /**
   * Link one record into the chain and add its line to the batch: its JSON text without the closing brace, then the
   * chain fields and the brace. The text is encoded once, straight into the batch's bytes: the hash input
   * (chainPrefix and the text, as chainHash hashes it) is written there, hashed, and the text moved down over the
   * prefix. Hashing the text and encoding the batch again as strings walked every record's pieces twice (fifteenth
   * and sixteenth passes, docs/performance.md). Nothing changes until the line is complete.
   */
  private link(body: string): void {
    const seq = this.seq + 1;
    const prev = this.prev;
    // room for the prefix (≤ 64 + 18 bytes), the text (≤ 3 bytes per UTF-16 unit) and the chain fields (≤ 190)
    const need = LINE_OVERHEAD + 3 * body.length;
    if (this.bytes.length - this.used < need) this.grow(need);
    const b = this.bytes;
    const at = this.used;
    const seqText = integerText(seq);
    const pre = b.write(prefixWith(prev, seqText), at, 'latin1');
    const n = b.write(body, at + pre, 'utf8');
    const h = hash('sha256', b.subarray(at, at + pre + n), 'hex');
    b.copyWithin(at, at + pre, at + pre + n);
    this.used = at + n + b.write(`${CHAIN_MARKER}"seq":${seqText},"prev":"${prev}","hash":"${h}"}}\n`, at + n, 'latin1');
    this.seq = seq;
    this.prev = h;
  }

  /** Make room for `need` more bytes in the batch, keeping what it holds. */
  private grow(need: number): void {
    const next = Buffer.allocUnsafe(Math.max(2 * this.bytes.length, this.used + need));
    this.bytes.copy(next, 0, 0, this.used);
    this.bytes = next;
  }

  /** The batch's bytes, and an empty batch after them (a batch that grew past its usual size gives the memory back). */
  private takeBatch(): Buffer {
    const out = this.bytes.subarray(0, this.used);
    this.used = 0;
    if (this.bytes.length > MAX_KEPT_BATCH_BYTES) this.bytes = Buffer.allocUnsafe(BATCH_BUFFER_BYTES);
    return out;
  }

  get healthy(): boolean {
    return this.failed === null;
  }

  get lastError(): Error | null {
    return this.failed;
  }

  /** The chain position of the last record handed to the destination. */
  get head(): { seq: number; hash: string } {
    this.linkQueued();
    return { seq: this.seq, hash: this.prev };
  }

  /**
   * Link the vendor-request records waiting in this turn into the chain, in the order they were written, onto the
   * batch. One after another, the serialiser and the hash run warm: done record by record between the other work of a
   * request, each cost several times as much (docs/performance.md, ninth pass). Nothing here may throw: this runs at
   * the end of the turn (a setImmediate, the exit hook), where an exception would lose every record of the turn.
   */
  private linkQueued(): void {
    const q = this.queued;
    if (q.length === 0) return;
    this.queued = [];
    for (let i = 0; i < q.length; i++) this.link(queuedRecordOpen(q[i]!));
  }

  /** Hand one record to the destination; false when it was dropped because the trail has failed or is closed. */
  write(record: AuditRecord): boolean {
    // a destination closed from outside without an error (nothing the trail did) would swallow the record
    if (this.file !== null && this.failed === null && this.file.destroyed) this.fail(new Error('the audit destination was closed'));
    if (this.failed !== null || this.closed) {
      // nothing can be written: keep memory bounded instead of queueing records for a dead destination
      this.dropped++;
      return false;
    }
    this.written++;
    // the vendor-request shape gets its own serialiser; anything else (admin actions) the generic one
    const vendor = (record.event as { action?: unknown } | undefined)?.action === 'vendor_request';
    if (!this.file) {
      this.link(vendor ? requestRecordOpen(record as RequestAuditRecord) : JSON.stringify(record).slice(0, -1));
      this.stream.write(this.takeBatch().toString('utf8'));
      return true;
    }
    if (vendor) this.queued.push(record as RequestAuditRecord);
    else {
      // serialised now: the generic serialiser can fail (the caller learns it), and the chain keeps the order of writes
      const open = JSON.stringify(record).slice(0, -1);
      this.linkQueued();
      this.link(open);
    }
    if (this.queued.length >= BATCH_RECORDS || this.used >= BATCH_BYTES) return this.handOver();
    if (!this.handOverQueued) {
      this.handOverQueued = true;
      setImmediate(this.writeBatch);
    }
    return true;
  }

  /**
   * Hand one record to the destination and, for a file, append it (and the rest of this turn's batch) before
   * returning: true only when the record is in the file (or handed to stdout / a stream). For records whose loss must be
   * known before the answer leaves (admin actions).
   */
  writeNow(record: AuditRecord): boolean {
    if (!this.write(record)) return false;
    if (this.file === null || this.path === null) return true;
    return this.handOver();
  }

  /**
   * Give the gathered batch to the destination: a file appends it before this returns, stdout writes it at once or
   * as soon as its current write completes. False when the destination refused it: the batch is lost and the trail has
   * failed.
   */
  private handOver(): boolean {
    this.linkQueued();
    if (this.used === 0) return this.failed === null;
    try {
      this.deliver(this.file!, this.takeBatch());
      // a file reports a failed append before write() returns
      return this.failed === null;
    } catch (err) {
      // a destination destroyed without reporting an error (ended from outside): nothing more reaches it
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return false;
    }
  }

  /**
   * Give the batch's bytes to the destination: a file appends them before write() returns; an asynchronous destination
   * (stdout, a pipe) keeps what it is given past this turn, so it gets a string of its own.
   */
  private deliver(file: FileStream, bytes: Buffer): void {
    if (file instanceof AppendFile) file.write(bytes);
    else {
      this.pending += bytes.length;
      file.write(bytes.toString('utf8'));
    }
  }

  /** The end-of-turn hand-over. */
  private readonly writeBatch = (): void => {
    this.handOverQueued = false;
    if (this.file && this.failed === null) this.handOver();
  };

  /** Process exit: hand the batch over and write what the destination holds synchronously (see writeLiveTrailsOnExit). */
  writeOnExit(): void {
    const file = this.file;
    if (!file || this.failed !== null || this.closed) return;
    try {
      this.linkQueued();
      if (this.used !== 0) this.deliver(file, this.takeBatch());
      if (file.fd >= 0) file.flushSync();
    } catch {
      // the process is exiting: nothing more can be done
    }
  }

  /**
   * Wait until every record handed over so far is written (and, for a file, fsync'ed). Resolves early when the
   * trail has failed, or after `timeoutMs` so a hung disk cannot block shutdown forever.
   */
  flush(timeoutMs = DEFAULT_FLUSH_TIMEOUT_MS): Promise<void> {
    const file = this.file;
    // a stream handed in (tests) is written synchronously as far as the trail can tell
    if (!file) return Promise.resolve();
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        file.off('drain', check);
        file.off('write', check);
        file.off('error', finish);
        resolve();
      };
      const check = () => {
        if (this.failed !== null) return finish();
        if (this.pending > 0) return undefined;
        if (file.fd < 0) return finish();
        fsync(file.fd, () => finish());
        return undefined;
      };
      const timer = setTimeout(finish, timeoutMs);
      timer.unref();
      this.handOver();
      file.on('drain', check);
      file.on('write', check);
      file.once('error', finish);
      check();
    });
  }

  /**
   * Reopen a file destination by its path, for rotation by renaming: records written after this go to a new
   * file at the configured path, and its first record links to the last one in the renamed file.
   */
  reopen(): void {
    if (this.file && this.path !== null && !this.closed && this.failed === null) {
      // the waiting batch goes to the destination first, as it did before the reopen was asked for
      this.handOver();
      this.file.reopen();
    }
  }

  /** Flush, then close the destination; later records are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    liveTrails.delete(this.ref);
    // records handed over while flush() waited are written before the end (later ones are dropped and counted)
    if (this.file && this.failed === null && !this.handOver()) return;
    if (this.file && this.path !== null && this.failed === null) {
      const file = this.file;
      await new Promise<void>((resolve) => {
        file.once('close', () => resolve());
        file.once('error', () => resolve());
        file.end();
      });
    }
  }
}
