// Starts a gateway: both listeners, the state store, the audit trail; graceful shutdown and reload on signals.

import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildVendorApp } from './app.js';
import { buildAdminApp } from './admin/app.js';
import { ConfigError, loadConfigFile, type Runtime } from './config/load.js';
import type { TlsListenerConfig } from './config/types.js';
import { Gateway } from './gateway.js';
import { AuditTrail } from './observability/audit.js';
import { createLogger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { filterFields } from './gateway.js';
import { createStore } from './state/factory.js';
import type { StateStore } from './state/store.js';
import { VERSION } from './version.js';
import { checkSovereignty } from './sovereignty/guard.js';

export interface StartOptions {
  /** where the runtime came from, for reload (SIGHUP / admin API) */
  configPath?: string;
  logger?: Logger;
  /** replaces the configured audit destination (tests pass a stream) */
  auditDestination?: string | Writable;
  store?: StateStore;
  now?: () => number;
  /** install SIGTERM/SIGINT/SIGHUP handlers (the CLI does; tests usually do not) */
  signals?: boolean;
}

export interface RunningGateway {
  gateway: Gateway;
  vendor: FastifyInstance<http.Server | https.Server>;
  admin: FastifyInstance<http.Server | https.Server>;
  vendorUrl: string;
  adminUrl: string;
  reload(): Promise<{ ok: true; hash: string } | { ok: false; problems: string[] }>;
  /** graceful: stop accepting, finish in-flight requests up to the grace period, flush audit, close the store */
  close(): Promise<void>;
}

function tlsOptions(t: TlsListenerConfig | undefined): https.ServerOptions | undefined {
  if (!t) return undefined;
  return {
    cert: readFileSync(t.certFile),
    key: readFileSync(t.keyFile),
    ...(t.clientCaFile ? { ca: readFileSync(t.clientCaFile) } : {}),
    requestCert: t.requireClientCert,
    rejectUnauthorized: t.requireClientCert,
    minVersion: 'TLSv1.2',
  };
}

function urlOf(app: FastifyInstance<http.Server | https.Server>, tls: boolean): string {
  const a = app.server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `${tls ? 'https' : 'http'}://${host}:${a.port}`;
}

export async function startGateway(runtime: Runtime, opts: StartOptions = {}): Promise<RunningGateway> {
  const cfg = runtime.config;
  const logger = opts.logger ?? createLogger(cfg.log.level);
  await checkSovereignty(runtime);
  const metrics = new Metrics({ version: VERSION, filterFields: filterFields(runtime) });
  const audit = new AuditTrail({
    destination: opts.auditDestination ?? cfg.audit.destination,
    onWriteError: (err) => {
      metrics.auditFailures.inc();
      logger.error({ code: (err as NodeJS.ErrnoException).code }, 'audit trail write failed; vendor traffic is refused while it cannot be written');
    },
  });
  const store = opts.store ?? createStore(runtime);
  const gateway = new Gateway({ runtime, store, audit, logger, metrics, ...(opts.now ? { now: opts.now } : {}) });
  await gateway.start();
  if (!gateway.keys.usable()) logger.warn({ error: gateway.keys.status().lastError }, 'signing keys not loaded yet; vendor requests get 503 keys_unavailable until they are');

  const reload = async (): Promise<{ ok: true; hash: string } | { ok: false; problems: string[] }> => {
    if (!opts.configPath) return { ok: false, problems: ['no configuration file to reload from'] };
    let next: Runtime;
    try {
      next = loadConfigFile(opts.configPath);
    } catch (err) {
      metrics.configReloads.inc({ result: 'failure' });
      const problems = err instanceof ConfigError ? err.problems : [String(err)];
      logger.error({ problems }, 'configuration reload refused; the old configuration keeps serving');
      return { ok: false, problems };
    }
    const r = await gateway.reload(next);
    if (!r.ok) {
      logger.error({ problems: r.problems }, 'configuration reload refused; the old configuration keeps serving');
      return r;
    }
    logger.info({ hash: next.hash }, 'configuration reloaded');
    return { ok: true, hash: next.hash };
  };

  const vendorTls = tlsOptions(cfg.vendor.tls);
  const adminTls = tlsOptions(cfg.admin.tls);
  const vendor = await buildVendorApp(gateway, vendorTls ? { tls: vendorTls } : {});
  const admin = await buildAdminApp(gateway, { reload, ...(adminTls ? { tls: adminTls } : {}) });
  await vendor.listen({ host: cfg.vendor.host, port: cfg.vendor.port });
  await admin.listen({ host: cfg.admin.host, port: cfg.admin.port });
  const vendorUrl = urlOf(vendor, !!vendorTls);
  const adminUrl = urlOf(admin, !!adminTls);
  logger.info({ vendor: vendorUrl, admin: adminUrl, config: runtime.hash, rules: runtime.routes.rules.length, store: store.backend }, 'metagate listening');

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      gateway.draining = true;
      const deadline = setTimeout(() => {
        logger.warn('grace period over; closing remaining connections');
        vendor.server.closeAllConnections();
      }, cfg.vendor.shutdownGraceMs);
      deadline.unref();
      await vendor.close();
      clearTimeout(deadline);
      await admin.close();
      await gateway.close();
      logger.info('metagate stopped');
      logger.flush();
    })();
    return closing;
  };

  if (opts.signals) {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      close().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err: String(err) }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => void reload());
  }
  return { gateway, vendor, admin, vendorUrl, adminUrl, reload, close };
}
