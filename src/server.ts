// Starts a gateway: both listeners, the state store, the audit trail; graceful shutdown and reload on signals.

import { readFileSync } from 'node:fs';
import type http from 'node:http';
import type https from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildVendorApp, timeOutArrivingRequests } from './app.js';
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
import { checkSovereignty, SovereigntyError } from './sovereignty/guard.js';
import { holdTickObjectShape } from './node-ticks.js';

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

type ReloadResult = { ok: true; hash: string } | { ok: false; problems: string[] };

/** TLS material for a listener; relative file names are read against the config file's directory, as load.ts checks them. */
function tlsOptions(t: TlsListenerConfig | undefined, baseDir: string): https.ServerOptions | undefined {
  if (!t) return undefined;
  const read = (f: string) => readFileSync(isAbsolute(f) ? f : resolve(baseDir, f));
  return {
    cert: read(t.certFile),
    key: read(t.keyFile),
    // with a client CA bundle the listener trusts only that bundle for client certificates, never the system store
    ...(t.clientCaFile ? { ca: read(t.clientCaFile) } : {}),
    requestCert: t.requireClientCert,
    rejectUnauthorized: t.requireClientCert,
    minVersion: 'TLSv1.2',
  };
}

/**
 * No TLS renegotiation: the client certificate checked at the handshake (and its thumbprint cached per socket for
 * certificate-bound tokens) must stay the one the connection carries.
 */
function pinHandshake(server: http.Server | https.Server): void {
  server.on('secureConnection', (socket: TLSSocket) => {
    socket.disableRenegotiation();
    // the HTTP layer answers the refusal (and audits it) first; then the connection goes, whatever state TLS is in
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ERR_TLS_RENEGOTIATION_DISABLED') setImmediate(() => socket.destroy());
    });
  });
}

function urlOf(app: FastifyInstance<http.Server | https.Server>, tls: boolean): string {
  const a = app.server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `${tls ? 'https' : 'http'}://${host}:${a.port}`;
}

export async function startGateway(runtime: Runtime, opts: StartOptions = {}): Promise<RunningGateway> {
  // first, before the first request: the earlier, the likelier that V8 still holds the map it first recorded for Node's
  // nextTick entries (a full collection during start-up may already have replaced it once; see src/node-ticks.ts)
  holdTickObjectShape();
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
  store.onStateLost?.(() => {
    metrics.storeStateLost.inc();
    logger.error('the shared state in Redis was lost while the gateway ran (restarted without persistence, flushed or evicted): revocations, suspensions and windows made before are gone; re-apply them from the audit trail');
  });
  const gateway = new Gateway({ runtime, store, audit, logger, metrics, ...(opts.now ? { now: opts.now } : {}) });
  // From here a failed start closes whatever it opened: a half-started gateway (the vendor listener serving, the admin
  // listener's port taken) must not keep running without health checks, admin API or kill switch.
  let vendor: FastifyInstance<http.Server | https.Server> | undefined;
  let admin: FastifyInstance<http.Server | https.Server> | undefined;
  try {
    return await startListening();
  } catch (err) {
    await Promise.allSettled([vendor?.close(), admin?.close()]);
    await gateway.close().catch(() => undefined);
    throw err;
  }

  async function startListening(): Promise<RunningGateway> {
    await gateway.start();
    if (!gateway.keys.usable()) logger.warn({ error: gateway.keys.status().lastError }, 'signing keys not loaded yet; vendor requests get 503 keys_unavailable until they are');

    const refuseReload = (problems: string[]): ReloadResult => {
      logger.error({ problems }, 'configuration reload refused; the old configuration keeps serving');
      return { ok: false, problems };
    };
    const reloadOnce = async (): Promise<ReloadResult> => {
      if (!opts.configPath) return { ok: false, problems: ['no configuration file to reload from'] };
      let next: Runtime;
      try {
        next = loadConfigFile(opts.configPath);
      } catch (err) {
        metrics.configReloads.inc({ result: 'failure' });
        return refuseReload(err instanceof ConfigError ? err.problems : [String(err)]);
      }
      // a reload may point auth.jwks.url somewhere new: it passes the same guard as a start
      try {
        await checkSovereignty(next);
      } catch (err) {
        metrics.configReloads.inc({ result: 'failure' });
        return refuseReload(err instanceof SovereigntyError ? err.message.split('\n').slice(1).map((l) => l.replace(/^\s*-\s*/, '')) : [String(err)]);
      }
      const r = await gateway.reload(next);
      if (!r.ok) return refuseReload(r.problems);
      logger.info({ hash: next.hash }, 'configuration reloaded');
      return { ok: true, hash: next.hash };
    };
    // one reload at a time (SIGHUP and the admin API may race); the later one reads the file again after the first
    let reloading: Promise<unknown> = Promise.resolve();
    const reload = (): Promise<ReloadResult> => {
      const run = reloading.then(reloadOnce, reloadOnce);
      reloading = run;
      return run;
    };

    const baseDir = opts.configPath ? dirname(resolve(opts.configPath)) : process.cwd();
    const vendorTls = tlsOptions(cfg.vendor.tls, baseDir);
    const adminTls = tlsOptions(cfg.admin.tls, baseDir);
    const vendorApp = (vendor = await buildVendorApp(gateway, vendorTls ? { tls: vendorTls } : {}));
    const adminApp = (admin = await buildAdminApp(gateway, { reload, ...(adminTls ? { tls: adminTls } : {}) }));
    if (vendorTls) pinHandshake(vendorApp.server);
    if (adminTls) pinHandshake(adminApp.server);
    await vendorApp.listen({ host: cfg.vendor.host, port: cfg.vendor.port });
    await adminApp.listen({ host: cfg.admin.host, port: cfg.admin.port });
    const vendorUrl = urlOf(vendorApp, !!vendorTls);
    const adminUrl = urlOf(adminApp, !!adminTls);
    logger.info({ vendor: vendorUrl, admin: adminUrl, config: runtime.hash, rules: runtime.routes.rules.length, store: store.backend }, 'metagate listening');

    let closing: Promise<void> | null = null;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        gateway.draining = true;
        // stop accepting now: fastify closes the listener only after its other onClose hooks (which may wait for
        // in-flight upstream requests), and a load balancer must see refused connections at once, not resets later
        vendorApp.server.close();
        // node no longer times out requests still arriving once its listener closes: the gateway does, and records them
        const stopTimeouts = timeOutArrivingRequests(gateway, vendorApp.server);
        const deadline = setTimeout(() => {
          logger.warn('grace period over; closing remaining connections');
          vendorApp.server.closeAllConnections();
        }, cfg.vendor.shutdownGraceMs);
        deadline.unref();
        await vendorApp.close();
        clearTimeout(deadline);
        stopTimeouts();
        await adminApp.close();
        await gateway.close();
        logger.info('metagate stopped');
        // wait for the log line to be written before the CLI exits, but never hang on a broken stderr
        await new Promise<void>((done) => {
          setTimeout(done, 1000).unref();
          logger.flush(() => done());
        });
      })();
      return closing;
    };

    if (opts.signals) {
      const stop = (signal: string) => {
        // a second SIGTERM (systemd, a double Ctrl-C) must not cut the drain short: the audit trail is flushed at its end
        if (closing) {
          logger.warn({ signal }, 'already shutting down; signal ignored');
          return;
        }
        // close() stops the vendor listener synchronously; the log line follows, so whoever reads it sees it closed
        const closed = close();
        logger.info({ signal }, 'shutting down');
        closed.then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error({ err: String(err) }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGHUP', () => {
        if (closing) return;
        logger.info({ signal: 'SIGHUP' }, 'reloading configuration');
        void reload();
      });
    }
    return { gateway, vendor: vendorApp, admin: adminApp, vendorUrl, adminUrl, reload, close };
  }
}
