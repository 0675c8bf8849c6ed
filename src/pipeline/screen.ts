// Part of stage 1: request-level checks on the raw HTTP message before the target is parsed.

import type { IncomingMessage } from 'node:http';

/** Headers that must appear at most once; a second copy means two parsers could read two different values. */
const SINGLE = new Set(['host', 'authorization', 'content-length', 'transfer-encoding', 'content-type']);

/** Why a request with an expectation other than 100-continue is refused; it is answered 417 (RFC 9110 §10.1.1). */
export const EXPECTATION_REFUSED = 'only the expectation "100-continue" is accepted';

const BODY_REFUSED = 'a request body is not accepted';
const ALL_ZEROS_RE = /^0+$/;

/** Returns why the message is refused, or null. */
export function screenMessage(raw: IncomingMessage): string | null {
  // Only HTTP/1.0 and HTTP/1.1 framing is spoken here. The parser also hands over 'GET /x' (HTTP/0.9, no headers)
  // and 'GET /x HTTP/2.0' (an HTTP/2 version in an HTTP/1 request line): neither is a request a client that means
  // well sends, and a hop that reads the version differently could frame the connection differently.
  if (raw.httpVersionMajor !== 1 || (raw.httpVersionMinor !== 0 && raw.httpVersionMinor !== 1)) {
    return `HTTP version ${raw.httpVersionMajor}.${raw.httpVersionMinor} is not accepted; use HTTP/1.1`;
  }
  const h = raw.rawHeaders;
  const seen = new Set<string>();
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!.toLowerCase();
    if (SINGLE.has(name)) {
      // a repeated Authorization is refused by the authenticate stage with its own reason
      if (seen.has(name) && name !== 'authorization') return `the "${name}" header was sent more than once`;
      seen.add(name);
    }
  }
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is invalid (node refuses it itself unless requireHostHeader is off)
  if (raw.httpVersionMinor === 1 && !seen.has('host')) return 'an HTTP/1.1 request needs a Host header';
  // node answers any other expectation with its own 417 unless the server listens for 'checkExpectation' (app.ts
  // hands those requests to the pipeline, so they are refused and recorded here)
  const expect = raw.headers.expect;
  if (expect !== undefined && expect.trim().toLowerCase() !== '100-continue') return EXPECTATION_REFUSED;
  const len = raw.headers['content-length'];
  if (raw.headers['transfer-encoding'] !== undefined) return BODY_REFUSED;
  if (len !== undefined && len !== '0') {
    // node's parser lets only digits through: a length of zero spelled with more of them ("00") announces no body, but
    // two parsers could still frame it differently, so it is refused too, and told apart from a body
    return ALL_ZEROS_RE.test(len) ? 'a Content-Length of zero must be written "0"; a request body is not accepted' : BODY_REFUSED;
  }
  return null;
}
