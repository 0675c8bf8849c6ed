// Answers the gateway has handed to node that the client has not taken yet. A client that asks for large answers and
// never reads them holds each one in gateway memory (node keeps what the socket cannot take); without a bound, a few
// hundred such connections take the process past its memory limit. Every held answer gets a deadline, and while a
// subject, or everyone together, holds too much, new answers wait.

import type { ServerResponse } from 'node:http';

export interface UnreadLimits {
  /** an answer not taken within this long is abandoned: its connection is closed (vendor.sendTimeoutMs) */
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
   * not take is held until it is taken, its connection closes, or the deadline closes the connection.
   */
  watch(res: ServerResponse, subject: string | undefined): void {
    const held = res.writableLength;
    if (held === 0 || res.destroyed) return;
    this.bytes += held;
    this.answers++;
    if (subject !== undefined) this.bySubject.set(subject, (this.bySubject.get(subject) ?? 0) + 1);
    const timer = setTimeout(() => {
      this.abandoned++;
      this.onAbandon();
      // the client has had its time: the connection goes, and the answer with it
      res.socket?.destroy();
      res.destroy();
    }, this.limits.timeoutMs);
    timer.unref();
    res.once('close', () => {
      clearTimeout(timer);
      this.bytes -= held;
      this.answers--;
      if (subject === undefined) return;
      const left = (this.bySubject.get(subject) ?? 1) - 1;
      if (left > 0) this.bySubject.set(subject, left);
      else this.bySubject.delete(subject);
    });
  }
}
