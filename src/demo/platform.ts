// A stand-in OpenMetadata server for the demo and the tests: node:http only, loopback only.
//
// It deliberately behaves like a careless upstream: every catalogue response carries its data-bearing fields
// (sample rows, profiles, SQL) whatever `fields=` says, data endpoints answer too, and every response sets a
// `Server` header and a session cookie. Whatever reaches a vendor through the gateway must show none of that.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DEMO_DATAMODEL_FQN,
  DEMO_DATAMODEL_ID,
  DEMO_PIPELINE_FQN,
  DEMO_PIPELINE_ID,
  DEMO_TABLE_FQN,
  DEMO_TABLE_ID,
  DEMO_TABLE_VERSION,
  DEMO_TEST_CASE_ID,
  DEMO_TOPIC_FQN,
  DEMO_TOPIC_ID,
  type JsonObject,
  omDashboardDataModel,
  omDataColumnProfile,
  omDataFailedRowsSample,
  omDataQueries,
  omDataSearchQuery,
  omDataTableProfileLatest,
  omDataTableSampleData,
  omDataTopicSampleData,
  omLineage,
  omLineageSearch,
  omPipeline,
  omTable,
  omTablesList,
  omTableVersion,
  omTableVersions,
  omTopic,
  omUsage,
} from './data.js';

export {
  DEMO_DATAMODEL_FQN,
  DEMO_DATAMODEL_ID,
  DEMO_PIPELINE_FQN,
  DEMO_PIPELINE_ID,
  DEMO_TABLE_FQN,
  DEMO_TABLE_ID,
  DEMO_TABLE_VERSION,
  DEMO_TEST_CASE_ID,
  DEMO_TOPIC_FQN,
  DEMO_TOPIC_ID,
} from './data.js';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface DemoPlatform {
  /** base URL, e.g. http://127.0.0.1:41234 (the API lives under /api/v1) */
  url: string;
  close(): Promise<void>;
  /** every request received, in order */
  requests: RecordedRequest[];
}

export const DEMO_SERVER_HEADER = 'demo-platform/1.0';
export const DEMO_SET_COOKIE = 'OM_SESSION=demo-session-7f3a9c; Path=/; HttpOnly; SameSite=Lax';

/** The paths this server answers with data (never metadata); the gateway must never forward a request to them. */
export const DEMO_DATA_PATHS: readonly string[] = Object.freeze([
  `/api/v1/tables/${DEMO_TABLE_ID}/sampleData`,
  `/api/v1/topics/${DEMO_TOPIC_ID}/sampleData`,
  `/api/v1/tables/${DEMO_TABLE_FQN}/tableProfile/latest`,
  `/api/v1/tables/${DEMO_TABLE_FQN}/columnProfile`,
  `/api/v1/dataQuality/testCases/${DEMO_TEST_CASE_ID}/failedRowsSample`,
  '/api/v1/queries',
  '/api/v1/search/query',
]);

type Handler = () => JsonObject;

const P = '/api/v1';
const ROUTES: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  // catalogue
  [`${P}/tables`, () => omTablesList],
  [`${P}/tables/${DEMO_TABLE_ID}`, () => omTable],
  [`${P}/tables/name/${DEMO_TABLE_FQN}`, () => omTable],
  [`${P}/tables/${DEMO_TABLE_ID}/versions`, () => omTableVersions],
  [`${P}/tables/${DEMO_TABLE_ID}/versions/${DEMO_TABLE_VERSION}`, () => omTableVersion],
  [`${P}/topics/${DEMO_TOPIC_ID}`, () => omTopic],
  [`${P}/topics/name/${DEMO_TOPIC_FQN}`, () => omTopic],
  [`${P}/dashboard/datamodels/${DEMO_DATAMODEL_ID}`, () => omDashboardDataModel],
  [`${P}/dashboard/datamodels/name/${DEMO_DATAMODEL_FQN}`, () => omDashboardDataModel],
  [`${P}/pipelines/${DEMO_PIPELINE_ID}`, () => omPipeline],
  [`${P}/pipelines/name/${DEMO_PIPELINE_FQN}`, () => omPipeline],
  // lineage
  [`${P}/lineage/table/${DEMO_TABLE_ID}`, () => omLineage],
  [`${P}/lineage/table/name/${DEMO_TABLE_FQN}`, () => omLineage],
  [`${P}/lineage/getLineage`, () => omLineageSearch],
  // usage
  [`${P}/usage/table/${DEMO_TABLE_ID}`, () => omUsage],
  [`${P}/usage/table/name/${DEMO_TABLE_FQN}`, () => omUsage],
  // data — present so that a leak through the gateway is visible
  [`${P}/tables/${DEMO_TABLE_ID}/sampleData`, () => omDataTableSampleData],
  [`${P}/topics/${DEMO_TOPIC_ID}/sampleData`, () => omDataTopicSampleData],
  [`${P}/tables/${DEMO_TABLE_FQN}/tableProfile/latest`, () => omDataTableProfileLatest],
  [`${P}/tables/${DEMO_TABLE_FQN}/columnProfile`, () => omDataColumnProfile],
  [`${P}/dataQuality/testCases/${DEMO_TEST_CASE_ID}/failedRowsSample`, () => omDataFailedRowsSample],
  [`${P}/queries`, () => omDataQueries],
  [`${P}/search/query`, () => omDataSearchQuery],
]);

function send(res: ServerResponse, status: number, body: JsonObject, extra: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    server: DEMO_SERVER_HEADER,
    'set-cookie': DEMO_SET_COOKIE,
    ...extra,
  });
  res.end(payload);
}

function pathOf(rawUrl: string): string {
  const q = rawUrl.indexOf('?');
  const raw = q === -1 ? rawUrl : rawUrl.slice(0, q);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  // Drain any request body; the demo never reads one.
  req.resume();
  if (method !== 'GET' && method !== 'HEAD') {
    send(res, 405, { code: 405, message: `${method} is not supported by the demo platform` }, { allow: 'GET, HEAD' });
    return;
  }
  const path = pathOf(url);
  const handler = ROUTES.get(path) ?? (path.length > 1 && path.endsWith('/') ? ROUTES.get(path.slice(0, -1)) : undefined);
  if (!handler) {
    send(res, 404, { code: 404, message: `No resource at ${path}` });
    return;
  }
  if (method === 'HEAD') {
    const payload = JSON.stringify(handler());
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
      server: DEMO_SERVER_HEADER,
      'set-cookie': DEMO_SET_COOKIE,
    });
    res.end();
    return;
  }
  send(res, 200, handler());
}

export async function startDemoPlatform(opts: { host?: string; port?: number } = {}): Promise<DemoPlatform> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 0;
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } });
    try {
      handle(req, res);
    } catch {
      if (!res.headersSent) send(res, 500, { code: 500, message: 'demo platform error' });
      else res.destroy();
    }
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${hostForUrl}:${addr.port}`,
    requests,
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
