// The audit trail's file: each batch of records is appended with one synchronous write.
//
// The trail gathers the records of one turn of the event loop into one batch (audit.ts). Handing that batch to
// libuv's thread pool, as an asynchronous write does, costs more than the write itself: on the benchmark machine an
// asynchronous 6 KB append costs 44–76 µs of CPU (the wake-ups between the threads), a synchronous one 16–20 µs
// (docs/performance.md, eighth pass). A synchronous append also puts every record in the kernel at the end of the turn
// that produced it, instead of behind a queue in this process — what pino itself does by default for its files.
//
// The class speaks the part of sonic-boom's interface the trail uses (write, flushSync, reopen, end, destroy, fd,
// destroyed, and the events 'write', 'error' and 'close'), so that the file and stdout destinations are handled alike.

import { EventEmitter } from 'node:events';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export class AppendFile extends EventEmitter {
  fd = -1;
  destroyed = false;

  constructor(private readonly path: string) {
    super();
    this.open();
  }

  /** Open (or create) the file for appending. A failure is reported as 'error' on the next tick, as at any write. */
  private open(): void {
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      this.fd = openSync(this.path, 'a');
    } catch (err) {
      this.fd = -1;
      process.nextTick(() => this.emit('error', err));
    }
  }

  /**
   * Append `data` in full (a short write, as when a disk fills up, is continued until it fails). Emits 'write' with
   * the bytes written, or 'error' — and returns false — when the file could not take them. The trail hands over its
   * batch already encoded (audit.ts); text is encoded here.
   */
  write(data: string | Buffer): boolean {
    if (this.destroyed) throw new Error('the audit destination was closed');
    // the open failed: its error is already reported, and the trail writes nothing more
    if (this.fd < 0) return false;
    try {
      // encoded once: measuring the text's UTF-8 length first would read all of it once more
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      const total = bytes.length;
      let n = 0;
      while (n < total) n += writeSync(this.fd, bytes, n, total - n);
      this.emit('write', total);
      return true;
    } catch (err) {
      this.emit('error', err);
      return false;
    }
  }

  /** Nothing is held in this process: every write() was complete when it returned. */
  flushSync(): void {}

  flush(cb?: (err?: Error) => void): void {
    if (cb) process.nextTick(cb);
  }

  /** Close the file and open the configured path again (rotation by renaming). */
  reopen(): void {
    if (this.destroyed) return;
    this.closeFd();
    this.open();
  }

  /** Close the file; 'close' follows. */
  end(): void {
    this.destroy();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.closeFd();
    process.nextTick(() => this.emit('close'));
  }

  private closeFd(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed: nothing is lost, every write was complete
    }
    this.fd = -1;
  }
}
