// A request that reaches the gateway while it drains (pipelined behind an in-flight one on a kept-alive connection) is
// refused by the pipeline — 503 shutting_down as problem+json with the security headers — and recorded; the request
// in flight is answered.

import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const TABLE = `/api/v1/tables/${DEMO_TABLE_ID}`;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function connect(port: number): { socket: net.Socket; done: Promise<string> } {
  const socket = net.connect({ host: '127.0.0.1', port });
  let got = '';
  const done = new Promise<string>((resolve) => {
    socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
    socket.on('close', () => resolve(got));
    socket.on('error', () => resolve(got));
    setTimeout(() => socket.destroy(), 5000).unref();
  });
  return { socket, done };
}

describe('draining', () => {
  it('a request sent on a busy kept-alive connection after close began: 503 shutting_down, recorded', async () => {
    h = await startHarness();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let arrived = 0;
    h.upstream.setHandler((_req, res) => {
      arrived++;
      void gate.then(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: DEMO_TABLE_ID, name: 'customers' }));
      });
    });
    const auth = `Authorization: Bearer ${await h.token('geheim')}`;
    const msg = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;
    const exchange = connect(h.vendorPort);
    exchange.socket.write(msg([`GET ${TABLE} HTTP/1.1`, 'Host: x', auth]));
    for (let i = 0; i < 200 && arrived === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(arrived).toBe(1);

    // the connection is busy, so closing does not cut it; the next request on it arrives while the gateway drains
    const closing = h.gateway.close();
    exchange.socket.write(msg([`GET ${TABLE} HTTP/1.1`, 'Host: x', auth, 'Connection: close']));
    await new Promise((r) => setTimeout(r, 200));
    release();
    const raw = await exchange.done;
    await closing;

    const answers = raw.split(/(?=HTTP\/1\.1 \d{3})/).filter((a) => a.startsWith('HTTP/1.1'));
    expect(answers.map((a) => a.slice(0, 12))).toEqual(['HTTP/1.1 200', 'HTTP/1.1 503']);
    const refused = answers[1]!;
    expect(refused).toMatch(/content-type: application\/problem\+json/i);
    expect(refused).toMatch(/cache-control: no-store/i);
    expect(refused).toContain('"code":"shutting_down"');
    expect(arrived).toBe(1); // the refused request never reached the upstream
    const records = h.audit.requestRecords().map((r) => [r.metagate.decision, r.metagate.reasons.join(','), r.http.response.status_code]);
    expect(records).toEqual(
      expect.arrayContaining([
        ['allow', '', 200],
        ['deny', 'shutting_down', 503],
      ]),
    );
    expect(records).toHaveLength(2);
  });
});
