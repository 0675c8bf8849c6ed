// A small vendor-request audit record for trail tests: a refusal numbered `i`, at the epoch.

import type { RequestAuditRecord } from '../../src/observability/audit.js';

export const denyRecord = (i: number): RequestAuditRecord => ({
  '@timestamp': new Date(0).toISOString(),
  event: { kind: 'event', category: 'web', action: 'vendor_request', outcome: 'failure', duration: i },
  http: { request: { id: `req-${i}`, method: 'GET' }, response: { status_code: 404 } },
  url: { path: `/x/${i}` },
  source: { ip: '127.0.0.1' },
  metagate: { decision: 'deny', reasons: ['route_not_allowed'], config_hash: 'test' },
});
