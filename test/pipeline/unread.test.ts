// UnreadAnswers on real sockets: every held answer is given back exactly once, and a connection holding many of them
// carries one 'close' listener for all (review, session 7: one each set off MaxListenersExceededWarning).

import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UnreadAnswers } from '../../src/pipeline/unread.js';

/** an answer node could not hand to the socket at once: `held` bytes wait */
function heldAnswer(held: number): ServerResponse {
  return Object.assign(new EventEmitter(), { writableLength: held, destroyed: false, socket: null, destroy() {} }) as unknown as ServerResponse;
}

const closers: Array<() => void> = [];
afterEach(() => {
  while (closers.length > 0) closers.pop()!();
});

async function socketPair(): Promise<{ server: net.Socket; client: net.Socket }> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => srv.once('connection', r));
  const client = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  const server = await accepted;
  closers.push(() => {
    client.destroy();
    server.destroy();
    srv.close();
  });
  return { server, client };
}

describe('UnreadAnswers', () => {
  it('many held answers on one connection: one close listener, all given back when it closes, per subject too', async () => {
    const { server, client } = await socketPair();
    const unread = new UnreadAnswers({ timeoutMs: 60_000, maxBytes: 1_000, perSubject: 3 });
    const before = server.listenerCount('close');
    for (let i = 0; i < 20; i++) unread.watch(heldAnswer(10), server, 'alice');
    expect(server.listenerCount('close')).toBe(before + 1);
    expect(unread.answers).toBe(20);
    expect(unread.bytes).toBe(200);
    expect(unread.refusal('alice')).toBe('3 earlier answers to this subject have not been read yet; read them first');
    expect(unread.refusal('bob')).toBeUndefined();
    const closed = new Promise((r) => server.once('close', r));
    client.destroy();
    await closed;
    expect(unread.answers).toBe(0);
    expect(unread.bytes).toBe(0);
    expect(unread.refusal('alice')).toBeUndefined();
  });

  it('an answer released by its own finish is not released again when the connection closes', async () => {
    const { server, client } = await socketPair();
    const unread = new UnreadAnswers({ timeoutMs: 60_000, maxBytes: 1_000, perSubject: 3 });
    const a = heldAnswer(10);
    const b = heldAnswer(20);
    unread.watch(a, server, 'alice');
    unread.watch(b, server, 'alice');
    a.emit('finish');
    a.emit('close');
    expect([unread.answers, unread.bytes]).toEqual([1, 20]);
    const closed = new Promise((r) => server.once('close', r));
    client.destroy();
    await closed;
    expect([unread.answers, unread.bytes]).toEqual([0, 0]);
    expect(unread.refusal('alice')).toBeUndefined();
  });

  it('holds everyone back once all held answers together reach maxBytes', async () => {
    const { server } = await socketPair();
    const unread = new UnreadAnswers({ timeoutMs: 60_000, maxBytes: 100, perSubject: 100 });
    unread.watch(heldAnswer(60), server, 'alice');
    expect(unread.refusal('bob')).toBeUndefined();
    unread.watch(heldAnswer(60), server, undefined);
    expect(unread.refusal('bob')).toBe('the gateway is holding 100 bytes of answers its clients have not read; try again when they have');
  });
});
