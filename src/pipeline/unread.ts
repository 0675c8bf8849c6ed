// Answers the gateway has handed to node that the client has not taken yet. A client that asks for large answers and
// never reads them holds each one in gateway memory (node keeps what the socket cannot take); without a bound, a few
// hundred such connections take the process past its memory limit. Every held answer gets a deadline, and while a
// subject, or everyone together, holds too much, new answers wait.

import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface UnreadLimits {
  /** a connection that takes none of its answer for this long is closed (vendor.sendTimeoutMs) */
  timeoutMs: number;
  /** bytes all held answers together may keep (vendor.maxUnreadBytes) */
  maxBytes: number;
  /** held answers one subject may have (vendor.maxUnreadAnswersPerSubject) */
  perSubject: number;
}

export class UnreadAnswers {
  /** bytes held now */
  bytes = 0;
  /** answers held now */
  answers = 0;
  /** answers abandoned at their deadline so far */
  abandoned = 0;
  private readonly bySubject = new Map<string, number>();

  constructor(
    private readonly limits: UnreadLimits,
    private readonly onAbandon: () => void = () => {},
  ) {}

  /** Why a new answer for `subject` must not be sent now, or undefined when it may. */
  refusal(subject: string | undefined): string | undefined {
    if (this.answers === 0) return undefined;
    if (this.bytes >= this.limits.maxBytes) return `the gateway is holding ${this.limits.maxBytes} bytes of answers its clients have not read; try again when they have`;
    if (subject !== undefined && (this.bySubject.get(subject) ?? 0) >= this.limits.perSubject) return `${this.limits.perSubject} earlier answers to this subject have not been read yet; read them first`;
    return undefined;
  }

  /**
   * Called once an answer has been handed to node. An answer the socket took whole costs nothing more; one it could
   * not take is held until it is taken or its connection closes. The deadline is for a connection that takes nothing:
   * each time it runs out, a client that has taken more bytes since gets another `timeoutMs`, and one that has not is
   * cut off — a client reading slowly but steadily is not.
   */
  watch(res: ServerResponse, socket: Socket | null, subject: string | undefined): void {
    const held = res.writableLength;
    if (held === 0 || res.destroyed || socket === null || socket.destroyed) return;
    this.bytes += held;
    this.answers++;
    if (subject !== undefined) this.bySubject.set(subject, (this.bySubject.get(subject) ?? 0) + 1);
    let released = false;
    let waiting = pendingBytes(socket);
    // Released exactly once, on whichever comes first: node does not always say 'close' for an answer whose
    // connection went away while it waited behind others (pipelining, Node 20), so the socket's own close counts too.
    const release = () => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      res.off('close', release);
      res.off('finish', release);
      onSocketClose.get(socket)?.delete(release);
      this.bytes -= held;
      this.answers--;
      if (subject === undefined) return;
      const left = (this.bySubject.get(subject) ?? 1) - 1;
      if (left > 0) this.bySubject.set(subject, left);
      else this.bySubject.delete(subject);
    };
    const expire = () => {
      if (released) return;
      const now = pendingBytes(socket);
      if (now !== waiting && !socket.destroyed) {
        waiting = now;
        timer = setTimeout(expire, this.limits.timeoutMs);
        timer.unref();
        return;
      }
      this.abandoned++;
      this.onAbandon();
      // the client has had its time: the connection goes, and the answer with it
      release();
      socket.destroy();
      res.destroy();
    };
    let timer = setTimeout(expire, this.limits.timeoutMs);
    timer.unref();
    res.once('close', release);
    res.once('finish', release);
    whenClosed(socket, release);
  }
}

/** What to release when a connection closes: one listener per socket, however many of its answers are held. */
const onSocketClose = new WeakMap<Socket, Set<() => void>>();

function whenClosed(socket: Socket, release: () => void): void {
  let waiting = onSocketClose.get(socket);
  if (waiting === undefined) {
    const set = (waiting = new Set());
    onSocketClose.set(socket, set);
    socket.once('close', () => {
      onSocketClose.delete(socket);
      for (const f of set) f();
    });
  }
  waiting.add(release);
}

/**
 * Bytes the connection still has to send. libuv's queue shrinks as the client takes data (a single large write counts
 * in full in `writableLength` and `bytesWritten` until it is done, so neither shows progress); without that number
 * (a socket that has no libuv handle) the stream's own count is used, and a client reading slowly then gets only
 * `timeoutMs` in all.
 */
function pendingBytes(socket: Socket): number {
  const queued = (socket as unknown as { _handle?: { writeQueueSize?: unknown } | null })._handle?.writeQueueSize;
  return typeof queued === 'number' ? queued : socket.writableLength;
}
