// The shape every admin problem answer has (RFC 9457 problem details with a stable code), for the admin tests.

import { expect } from 'vitest';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Assert status, content type and the exact set of fields of an admin problem answer; returns the parsed body. */
export function expectProblem(res: { status: number; headers: Record<string, unknown>; body: string }, status: number, code: string): Record<string, unknown> {
  expect(res.status).toBe(status);
  expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['code', 'detail', 'request_id', 'status', 'title', 'type']);
  expect(body).toMatchObject({ type: `urn:metagate:problem:admin:${code}`, status, code });
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  expect(body.request_id).toMatch(UUID_RE);
  return body;
}
