// Threat class 1 through the whole gateway: path confusion. Every refused target must reach nothing upstream; every
// target that is allowed must reach the upstream as exactly one GET on the canonical allow-listed path.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestAuditRecord } from '../../src/observability/audit.js';
import { DEMO_TABLE_FQN, DEMO_TABLE_ID, DEMO_TEST_CASE_ID } from '../../src/demo/data.js';
import { startHarness, type Harness, type RecordedUpstreamRequest } from '../helpers/harness.js';
import { rawExchange, type RawResponse } from '../helpers/http.js';
import { CLASS, recordCases } from './summary.js';

const ID = DEMO_TABLE_ID;
const T = `/api/v1/tables/${ID}`;
const SERVICE_CREDENTIAL = 'Bearer upstream-service-credential';
/** Everything the gateway itself puts on an upstream request (rewrite.ts) plus what undici adds. */
const UPSTREAM_HEADERS = new Set(['host', 'connection', 'accept', 'accept-encoding', 'user-agent', 'x-request-id', 'authorization', 'accept-language']);

let h: Harness;
let bearer: string;

beforeAll(async () => {
  h = await startHarness();
  bearer = `Bearer ${await h.token('geheim')}`;
});
afterAll(async () => {
  await h?.close();
});

interface Outcome {
  res: RawResponse;
  records: RequestAuditRecord[];
  upstream: RecordedUpstreamRequest[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Send one request with a valid token on its own connection; collect its audit records and upstream requests. */
async function send(target: string): Promise<Outcome> {
  const recBefore = h.audit.requestRecords().length;
  const upBefore = h.upstream.requests.length;
  const res = await rawExchange(h.vendorPort, `GET ${target} HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: ${bearer}\r\nConnection: close\r\n\r\n`, 3000);
  // the record is written when the response finishes; give it a moment, then make sure no second one follows
  for (let i = 0; i < 200 && h.audit.requestRecords().length === recBefore; i++) await sleep(5);
  await sleep(20);
  return { res, records: h.audit.requestRecords().slice(recBefore), upstream: h.upstream.requests.slice(upBefore) };
}

function expectRefused(o: Outcome, status: number, code: string): void {
  expect(o.res.status).toBe(status);
  const body = JSON.parse(o.res.body) as { code: string; request_id: string; status: number };
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  expect(o.upstream).toEqual([]);
  expect(o.records).toHaveLength(1);
  const rec = o.records[0]!;
  expect(rec.metagate.decision).toBe('deny');
  expect(rec.metagate.reasons[0]).toBe(code);
  expect(rec.http.request.id).toBe(body.request_id);
  expect(rec.http.response.status_code).toBe(status);
}

function expectCleanForward(o: Outcome, upstreamUrl: string): void {
  expect(o.res.status).toBe(200);
  expect(o.upstream).toHaveLength(1);
  const u = o.upstream[0]!;
  expect(u.method).toBe('GET');
  expect(u.url).toBe(upstreamUrl);
  for (const name of Object.keys(u.headers)) expect(UPSTREAM_HEADERS.has(name), `upstream got header ${name}`).toBe(true);
  expect(u.headers.authorization).toBe(SERVICE_CREDENTIAL);
  expect(u.headers.host).toBe(new URL(h.upstream.url).host);
  expect(o.records).toHaveLength(1);
  const rec = o.records[0]!;
  expect(rec.metagate.decision).toBe('allow');
  expect(u.headers['x-request-id']).toBe(rec.http.request.id);
  // the component that decided and the component that forwarded saw the same path
  expect(rec.url.path).toBe(upstreamUrl.split('?')[0]);
  expect(o.res.body).not.toContain('CANARY');
}

// ------------------------------------------------------------------------------------------------ refused targets
const pathRejected: Array<[string, string, number?]> = [
  ['raw ../ to a data endpoint', `${T}/../${ID}/sampleData`],
  ['%2e%2e between two allowed ids', `${T}/%2e%2e/${ID}/sampleData`],
  ['%2E%2E upper case', `/api/v1/tables/%2E%2E/tables/${ID}`],
  ['%2e%2E mixed case', `${T}/%2e%2E/sampleData`],
  ['.%2e half encoded', `${T}/.%2e/x`],
  ['%252e%252e double encoded', `${T}/%252e%252e/sampleData`],
  ['%c0%ae%c0%ae overlong UTF-8', `${T}/%c0%ae%c0%ae/sampleData`],
  ['%e2%80%a4 one-dot leader', `${T}/%e2%80%a4%e2%80%a4/sampleData`],
  ['%EF%BC%8E full-width dots', `${T}/%EF%BC%8E%EF%BC%8E/sampleData`],
  ['raw . segment', `/api/v1/./tables/${ID}`],
  ['trailing ..', `${T}/sampleData/..`],
  ['raw backslash traversal', `${T}\\..\\sampleData`],
  ['%5c traversal', `${T}%5c..%5csampleData`],
  ['%2f hides a data path in one segment', `/api/v1/tables/${ID}%2fsampleData`],
  ['%2F in an fqn', '/api/v1/tables/name/a%2Fb'],
  ['%00 after an allowed path', `${T}%00/sampleData`],
  ['; matrix parameter', '/api/v1/tables;jsessionid=x'],
  ['..; Tomcat traversal', `${T}/..;/sampleData`],
  ['%3b encoded semicolon', '/api/v1/tables%3bx=y'],
  ['leading //', '//api/v1/tables'],
  ['// in the middle', `/api/v1//tables/${ID}`],
  ['trailing /', '/api/v1/tables/'],
  ['trailing .', '/api/v1/tables.'],
  ['trailing . after an id', `${T}.`],
  ['segment starting with ..', '/api/v1/tables/name/..x'],
  ['raw # fragment', `${T}#/sampleData`],
  ['%23 encoded fragment', `${T}%23/sampleData`],
  ['%3f encoded ?', `${T}%3f/sampleData`],
  ['absolute-form', `http://127.0.0.1${T}`],
  ['absolute-form with a data path', `http://gateway.test${T}/sampleData`],
  ['asterisk-form', '*'],
  ['_method=DELETE query key', `${T}?_method=DELETE`],
  ['a=1&&b=2', '/api/v1/tables?limit=1&&include=all'],
  ['valueless key', '/api/v1/tables?includeEmptyTestSuite'],
  ['repeated key (parameter pollution)', `${T}?fields=columns&fields=sampleData`],
  ['+ in a value', '/api/v1/tables?database=a+b'],
  ['encoded key', `${T}?fi%65lds=sampleData`],
  ['too many query parameters', '/api/v1/tables?' + Array.from({ length: 17 }, (_, i) => `k${i}=1`).join('&')],
  ['raw " in a path', '/api/v1/tables/name/"x"'],
  ['over-long path', '/api/v1/tables/name/' + 'a'.repeat(3000), 414],
  ['over-long query', '/api/v1/tables?database=' + 'a'.repeat(3000), 414],
];

// bytes node's HTTP parser refuses before any handler runs: answered by the client-error handler
const parserRejected: Array<[string, string]> = [
  ['raw NUL', `${T}\0/sampleData`],
  ['raw control byte', `${T}\x01`],
  ['raw tab', `/api/v1/\ttables`],
  ['raw DEL', `${T}\x7f`],
  ['raw non-ASCII', '/api/v1/tables/name/caf\u00e9'],
  ['raw full-width dots', `${T}/\uff0e\uff0e/sampleData`],
  ['raw one-dot leader', `${T}/\u2024\u2024/sampleData`],
  ['raw space (two targets in one line)', `${T} /sampleData`],
];

const notFound: Array<[string, string]> = [
  ['allow-listed path hidden in the query', '/api/v1/sampleData?x=/api/v1/tables'],
  ['data endpoint under an allowed id', `${T}/sampleData`],
  ['encoded letters still spell a data endpoint', `/api/v1/t%61bles/${ID}/s%61mpleData`],
  ['table profile', `/api/v1/tables/${DEMO_TABLE_FQN}/tableProfile/latest`],
  ['column profile', `/api/v1/tables/${DEMO_TABLE_FQN}/columnProfile`],
  ['failed rows sample', `/api/v1/dataQuality/testCases/${DEMO_TEST_CASE_ID}/failedRowsSample`],
  // OpenMetadata's JAX-RS routing prefers @Path("/{fqn}/status") (more literal characters) over /name/{fqn}: the
  // pipeline named "name"'s run statuses (review, session 9)
  ['a sub-resource word as the fqn of by-name (pipeline run statuses)', '/api/v1/pipelines/name/status'],
  ['queries', '/api/v1/queries'],
  ['search', '/api/v1/search/query?q=x'],
  ['case variant of the prefix', '/API/v1/tables'],
  ['case variant of a segment', `/api/v1/Tables/${ID}`],
  ['upper-case id', `/api/v1/tables/${ID.toUpperCase()}`],
  ['root', '/'],
];

const queryRefused: Array<[string, string, number, string]> = [
  ['data path hidden in a query key the rule does not take', `/api/v1/tables?x=${T}/sampleData`, 400, 'query_not_allowed'],
  ['fields=sampleData', `${T}?fields=sampleData`, 403, 'query_value_not_allowed'],
  ['fields=columns,sampleData', `${T}?fields=columns,sampleData`, 403, 'query_value_not_allowed'],
  ['fields=columns,columns', `${T}?fields=columns,columns`, 403, 'query_value_not_allowed'],
  ['fields=sampleData with %2C', `${T}?fields=columns%2CsampleData`, 403, 'query_value_not_allowed'],
  ['raw search DSL on search lineage', `/api/v1/lineage/getLineage?fqn=${DEMO_TABLE_FQN}&query_filter=%7B%7D`, 400, 'query_not_allowed'],
  ['token in the query (a credential, refused as such)', `${T}?access_token=x`, 401, 'token_invalid'],
];

// ------------------------------------------------------------------------------------------ allowed, but tricked
const tricked: Array<[string, string, string]> = [
  ['encoded unreserved letters', `/api/v1/t%61bles/${ID}`, T],
  ['every letter of "tables" encoded', `/api/v1/%74%61%62%6c%65%73/${ID}`, T],
  ['encoded dots inside an fqn', `/api/v1/tables/name/demo_mysql%2eshop%2esales%2ecustomers`, `/api/v1/tables/name/${DEMO_TABLE_FQN}`],
  ['empty query', '/api/v1/tables?', '/api/v1/tables'],
  ['encoded digits in a value', '/api/v1/tables?limit=%31%30', '/api/v1/tables?limit=10'],
  ['data path as a cursor value stays an encoded value', `/api/v1/tables?after=${T}/sampleData`, `/api/v1/tables?after=${encodeURIComponent(`${T}/sampleData`)}`],
  ['encoded comma in fields', `${T}?fields=columns%2Ctags`, `${T}?fields=columns%2Ctags`],
];

describe('class 1: path confusion through the gateway', () => {
  it.each(pathRejected)('%s → 400/414 path_rejected', async (_d, target, status = 400) => {
    recordCases(CLASS.path, 1);
    expectRefused(await send(target), status, 'path_rejected');
  });

  it.each(parserRejected)('%s → 400 request_rejected by the HTTP parser', async (_d, target) => {
    recordCases(CLASS.path, 1);
    const o = await send(target);
    expectRefused(o, 400, 'request_rejected');
    expect(o.records[0]!.metagate.detail).toMatch(/^malformed HTTP request \(HPE_/);
  });

  it.each(notFound)('%s → 404 route_not_allowed', async (_d, target) => {
    recordCases(CLASS.path, 1);
    expectRefused(await send(target), 404, 'route_not_allowed');
  });

  it.each(queryRefused)('%s → %i %s', async (_d, target, status, code) => {
    recordCases(CLASS.path, 1);
    expectRefused(await send(target), status, code);
  });

  it.each(tricked)('%s → exactly GET %s upstream', async (_d, target, upstreamUrl) => {
    recordCases(CLASS.path, 1);
    expectCleanForward(await send(target), upstreamUrl);
  });
});
