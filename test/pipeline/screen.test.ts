// Stage 1 (message screen) unit table: HTTP version, headers that must appear once, Host, and request bodies.

import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { screenMessage } from '../../src/pipeline/screen.js';
import { CLASS, recordCases } from '../security/summary.js';

/** A real IncomingMessage as node's parser would hand it over: raw header pairs plus the folded header object. */
function message(version: string, rawHeaders: string[]): IncomingMessage {
  const m = new IncomingMessage(new Socket());
  const [major, minor] = version.split('.').map(Number) as [number, number];
  m.httpVersion = version;
  m.httpVersionMajor = major;
  m.httpVersionMinor = minor;
  m.rawHeaders = rawHeaders;
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const k = rawHeaders[i]!.toLowerCase();
    // node keeps the first copy of single-valued headers when joinDuplicateHeaders is off
    if (!(k in headers)) headers[k] = rawHeaders[i + 1]!;
  }
  m.headers = headers;
  return m;
}

const HOST = ['Host', 'gateway.example'];

describe('screenMessage', () => {
  it.each<[string, string, string[], string | null]>([
    ['plain HTTP/1.1 GET', '1.1', [...HOST, 'Accept', 'application/json'], null],
    ['HTTP/1.0 without Host', '1.0', [], null],
    ['Content-Length: 0 is no body', '1.1', [...HOST, 'Content-Length', '0'], null],
    ['one Authorization (the authenticate stage counts them)', '1.1', [...HOST, 'Authorization', 'Bearer a'], null],
    ['two Authorization headers are left to the authenticate stage', '1.1', [...HOST, 'Authorization', 'Bearer a', 'authorization', 'Bearer b'], null],
    ['repeated ordinary header', '1.1', [...HOST, 'Accept', 'a', 'Accept', 'b'], null],
    ['HTTP/0.9', '0.9', [], 'HTTP version 0.9 is not accepted'],
    ['HTTP/2.0 in an HTTP/1 request line', '2.0', HOST, 'HTTP version 2.0 is not accepted'],
    ['HTTP/1.2', '1.2', HOST, 'HTTP version 1.2 is not accepted'],
    ['HTTP/1.1 without Host', '1.1', [], 'an HTTP/1.1 request needs a Host header'],
    ['duplicate Host', '1.1', [...HOST, 'Host', 'internal.example'], 'the "host" header was sent more than once'],
    ['duplicate Host, different case', '1.1', ['host', 'a', 'HOST', 'b'], 'the "host" header was sent more than once'],
    ['duplicate Host with the same value', '1.1', [...HOST, ...HOST], 'the "host" header was sent more than once'],
    ['duplicate Content-Length', '1.1', [...HOST, 'Content-Length', '0', 'Content-Length', '0'], 'the "content-length" header was sent more than once'],
    ['duplicate Transfer-Encoding', '1.1', [...HOST, 'Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'identity'], 'the "transfer-encoding" header was sent more than once'],
    ['duplicate Content-Type', '1.1', [...HOST, 'Content-Type', 'a/b', 'Content-Type', 'c/d'], 'the "content-type" header was sent more than once'],
    ['GET with a body (Content-Length: 5)', '1.1', [...HOST, 'Content-Length', '5'], 'a request body is not accepted'],
    ['Content-Length: 00 (zero, not written "0")', '1.1', [...HOST, 'Content-Length', '00'], 'a Content-Length of zero must be written "0"; a request body is not accepted'],
    ['Content-Length: 000', '1.1', [...HOST, 'Content-Length', '000'], 'a Content-Length of zero must be written "0"; a request body is not accepted'],
    ['Content-Length: 05 (a body, leading zero)', '1.1', [...HOST, 'Content-Length', '05'], 'a request body is not accepted'],
    ['Transfer-Encoding: chunked', '1.1', [...HOST, 'Transfer-Encoding', 'chunked'], 'a request body is not accepted'],
    ['Transfer-Encoding: identity', '1.1', [...HOST, 'Transfer-Encoding', 'identity'], 'a request body is not accepted'],
    ['CL and TE together', '1.1', [...HOST, 'Content-Length', '0', 'Transfer-Encoding', 'chunked'], 'a request body is not accepted'],
    ['Expect: 100-continue', '1.1', [...HOST, 'Expect', '100-continue'], null],
    ['Expect: 100-Continue (case-insensitive token)', '1.1', [...HOST, 'Expect', '100-Continue'], null],
    ['Expect: foo', '1.1', [...HOST, 'Expect', 'foo'], 'only the expectation "100-continue" is accepted'],
    ['Expect: 100-continue, foo', '1.1', [...HOST, 'Expect', '100-continue, foo'], 'only the expectation "100-continue" is accepted'],
    ['Expect: empty', '1.1', [...HOST, 'Expect', ''], 'only the expectation "100-continue" is accepted'],
  ])('%s', (_d, version, raw, expected) => {
    recordCases(CLASS.screenUnit, 1);
    const r = screenMessage(message(version, raw));
    if (expected === null) expect(r).toBeNull();
    else expect(r).toContain(expected);
  });

  it('a length that announces a body is told so, not that a zero must be written "0" (the table above only checks containment)', () => {
    recordCases(CLASS.screenUnit, 2);
    for (const len of ['5', '05']) expect(screenMessage(message('1.1', [...HOST, 'Content-Length', len]))).toBe('a request body is not accepted');
  });
});
