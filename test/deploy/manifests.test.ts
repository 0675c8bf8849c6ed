// The deployment artefacts say what the network admin is promised: Dockerfile, compose trial, Kubernetes manifests.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseCidr } from '../../src/sovereignty/cidr.js';
import { execForm, parseDockerfile } from './dockerfile.js';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (p: string) => readFileSync(resolve(ROOT, p), 'utf8');
type Obj = Record<string, any>;

function manifests(file: string): Obj[] {
  return parseAllDocuments(read(file)).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as Obj;
  });
}
const k8s = ['configmap.yaml', 'deployment.yaml', 'service.yaml', 'networkpolicy.yaml'].flatMap((f) => manifests(`docker/k8s/${f}`));
const find = (kind: string, name: string) => {
  const m = k8s.find((x) => x.kind === kind && x.metadata?.name === name);
  expect(m, `${kind}/${name}`).toBeDefined();
  return m!;
};
const exampleConfig = parse(read('docker/metagate.example.yaml')) as Obj;

describe('Dockerfile', () => {
  const { args, stages } = parseDockerfile(read('Dockerfile'));
  const final = stages.at(-1)!;
  const ops = (s: typeof final, op: string) => s.instructions.filter((i) => i.op === op);

  it('is multi-stage on a pinned Node 24 image, never "latest"', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const base = args.NODE_IMAGE!;
    expect(base).toMatch(/^node:24\.\d+\.\d+-(bookworm-slim|alpine\d[\d.]*|bookworm)$/);
    for (const s of stages) {
      const image = s.from.replace('${NODE_IMAGE}', base);
      expect(image).not.toMatch(/:latest$|^[^:@]+$/);
    }
    expect(final.from).toBe('${NODE_IMAGE}');
  });

  it('builds with npm ci + npm run build, checks licences and writes the SBOM in the build stage', () => {
    const build = stages[0]!;
    const runs = ops(build, 'RUN').map((r) => r.args);
    expect(runs.some((r) => /npm ci\b/.test(r) && !r.includes('--omit=dev'))).toBe(true);
    expect(runs.some((r) => r.includes('npm run build'))).toBe(true);
    expect(runs.some((r) => r.includes('scripts/licenses.ts'))).toBe(true);
    expect(runs.some((r) => r.includes('scripts/sbom.ts'))).toBe(true);
  });

  it('ships production dependencies, dist/ and the route profiles only', () => {
    const runs = ops(final, 'RUN').map((r) => r.args);
    expect(runs.some((r) => /npm ci --omit=dev/.test(r))).toBe(true);
    const copies = ops(final, 'COPY').map((c) => c.args);
    expect(copies).toContain('--from=build /app/dist/src ./dist/src');
    expect(copies).toContain('config/profiles ./config/profiles');
    expect(copies.some((c) => /\bsrc\b/.test(c) && !c.includes('dist/src'))).toBe(false);
    expect(ops(final, 'ADD')).toEqual([]);
  });

  it('runs as uid 10001, writes only to the audit volume, and stops on SIGTERM', () => {
    const users = ops(final, 'USER');
    expect(users.at(-1)!.args).toBe('10001:10001');
    // nothing after USER runs as root again
    const afterUser = final.instructions.slice(final.instructions.indexOf(users.at(-1)!));
    expect(afterUser.filter((i) => i.op === 'RUN')).toEqual([]);
    expect(execForm(ops(final, 'VOLUME')[0]!.args)).toEqual(['/var/lib/metagate']);
    expect(ops(final, 'STOPSIGNAL')[0]!.args).toBe('SIGTERM');
    expect(ops(final, 'ENV').map((e) => e.args).join(' ')).toContain('NODE_ENV=production');
  });

  it('has a node-based HEALTHCHECK on the admin /healthz, the entrypoint and the default command', () => {
    const hc = ops(final, 'HEALTHCHECK')[0]!.args;
    expect(hc).toMatch(/--interval=\d+s/);
    const cmd = execForm(hc.slice(hc.indexOf('CMD') + 3).trim());
    expect(cmd.slice(0, 2)).toEqual(['node', '-e']);
    expect(cmd[2]).toContain('/healthz');
    expect(execForm(ops(final, 'ENTRYPOINT')[0]!.args)).toEqual(['node', 'dist/src/cli.js']);
    expect(execForm(ops(final, 'CMD')[0]!.args)).toEqual(['serve', '--config', '/etc/metagate/metagate.yaml']);
  });

  it('carries OCI labels', () => {
    const labels = ops(final, 'LABEL').map((l) => l.args).join(' ');
    for (const key of ['title', 'description', 'version', 'revision', 'licenses', 'base.name']) expect(labels).toContain(`org.opencontainers.image.${key}=`);
    expect(labels).toContain('org.opencontainers.image.licenses="EUPL-1.2"');
  });

  it('.dockerignore admits only what the build needs', () => {
    const lines = read('.dockerignore').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('**');
    expect(lines.filter((l) => l.startsWith('!')).sort()).toEqual(['!config/**', '!package-lock.json', '!package.json', '!scripts/**', '!src/**', '!tsconfig.json']);
  });
});

describe('Kubernetes manifests', () => {
  const deploy = find('Deployment', 'metagate');
  const pod = deploy.spec.template.spec;
  const c = pod.containers[0];

  it('runs non-root with a read-only root filesystem, no capabilities, RuntimeDefault seccomp, no token', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext.capabilities.add).toBeUndefined();
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.hostNetwork ?? false).toBe(false);
    expect(c.image).not.toMatch(/:latest$/);
  });

  it('probes /healthz and /readyz on the admin port, sets resources, mounts only the audit volume writable', () => {
    for (const p of [c.livenessProbe, c.startupProbe]) expect(p.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(c.ports).toEqual([
      { name: 'vendor', containerPort: exampleConfig.vendor.port, protocol: 'TCP' },
      { name: 'admin', containerPort: exampleConfig.admin.port, protocol: 'TCP' },
    ]);
    expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(c.resources.limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    const writable = c.volumeMounts.filter((m: Obj) => !m.readOnly);
    expect(writable.map((m: Obj) => m.mountPath)).toEqual(['/var/lib/metagate']);
    expect(exampleConfig.audit.destination.startsWith('/var/lib/metagate/')).toBe(true);
  });

  it('gives in-flight requests time to finish: grace period > preStop + vendor.shutdownGraceMs', () => {
    const preStop = Number(c.lifecycle.preStop.exec.command[1]);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStop + exampleConfig.vendor.shutdownGraceMs / 1000);
  });

  it('the ConfigMap holds the example configuration, and the container reads it from there', () => {
    const cm = find('ConfigMap', 'metagate-config');
    expect(parse(cm.data['metagate.yaml'])).toEqual(exampleConfig);
    const mount = c.volumeMounts.find((m: Obj) => m.name === 'config');
    expect(c.args).toEqual(['serve', '--config', `${mount.mountPath}/metagate.yaml`]);
    expect(pod.volumes.find((v: Obj) => v.name === 'config').configMap.name).toBe('metagate-config');
  });

  it('exposes the vendor port on one Service and the admin port on a separate ClusterIP Service', () => {
    const vendor = find('Service', 'metagate');
    expect(vendor.spec.ports.map((p: Obj) => p.targetPort)).toEqual(['vendor']);
    expect(vendor.spec.externalTrafficPolicy).toBe('Local');
    const admin = find('Service', 'metagate-admin');
    expect(admin.spec.type).toBe('ClusterIP');
    expect(admin.spec.ports.map((p: Obj) => p.targetPort)).toEqual(['admin']);
  });

  it('NetworkPolicy: vendors to the vendor port, monitoring to the admin port; egress only to platform, IdP, Redis, DNS', () => {
    const np = find('NetworkPolicy', 'metagate');
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec.podSelector.matchLabels).toEqual(deploy.spec.selector.matchLabels);
    const ingress = np.spec.ingress as Obj[];
    expect(ingress).toHaveLength(2);
    expect(ingress[0]).toEqual({ from: [{ ipBlock: { cidr: expect.any(String) } }], ports: [{ protocol: 'TCP', port: exampleConfig.vendor.port }] });
    expect(ingress[1]).toEqual({ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ protocol: 'TCP', port: exampleConfig.admin.port }] });

    const egress = np.spec.egress as Obj[];
    for (const rule of egress) {
      expect(rule.to?.length, 'every egress rule names its destination').toBeGreaterThan(0);
      expect(rule.ports?.length, 'every egress rule names its ports').toBeGreaterThan(0);
    }
    const cidrs = egress.flatMap((r) => r.to.filter((t: Obj) => t.ipBlock).map((t: Obj) => t.ipBlock.cidr as string));
    expect(cidrs).not.toContain('0.0.0.0/0');
    // every egress CIDR lies inside sovereignty.allowedRanges
    const allowed = (exampleConfig.sovereignty.allowedRanges as string[]).map((r) => parseCidr(r)!);
    for (const cidr of cidrs) {
      const c2 = parseCidr(cidr)!;
      expect(allowed.some((a) => a.family === c2.family && a.prefix <= c2.prefix && (c2.bits >> BigInt(32 - a.prefix)) === a.bits >> BigInt(32 - a.prefix)), cidr).toBe(true);
    }
    const ports = egress.flatMap((r) => r.ports.map((p: Obj) => `${p.protocol}/${p.port}`)).sort();
    const upstreamPort = new URL(exampleConfig.upstream.url).port;
    const idpPort = new URL(exampleConfig.auth.jwks.url).port || '443';
    const redisPort = new URL(exampleConfig.state.redis.url).port;
    expect(ports).toEqual([`TCP/${idpPort}`, `TCP/${redisPort}`, 'TCP/53', `TCP/${upstreamPort}`, 'UDP/53'].sort());
  });
});

describe('compose trial', () => {
  const compose = parse(read('docker/compose.yaml'), { merge: true }) as Obj;
  const s = compose.services as Record<string, Obj>;

  it('runs metagate, redis with AOF persistence, the demo platform and issuer, and prometheus', () => {
    expect(Object.keys(s).sort()).toEqual(['demo-issuer', 'demo-platform', 'metagate', 'prometheus', 'redis']);
    expect(s.redis!.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    expect(s.redis!.volumes).toEqual(['redis-data:/data']);
    expect(s.prometheus!.volumes).toContain('./prometheus:/etc/prometheus:ro');
    expect(s.metagate!.depends_on).toMatchObject({ redis: { condition: 'service_healthy' } });
  });

  it('hardens every metagate container and publishes ports on loopback only', () => {
    for (const name of ['metagate', 'demo-platform', 'demo-issuer']) {
      expect(s[name]).toMatchObject({ read_only: true, user: '10001:10001', cap_drop: ['ALL'], security_opt: ['no-new-privileges:true'] });
    }
    for (const svc of Object.values(s)) for (const p of (svc.ports ?? []) as string[]) expect(p).toMatch(/^127\.0\.0\.1:/);
    expect(s.metagate!.stop_signal).toBe('SIGTERM');
  });

  it('the trial configuration stays inside the trial network and the admin token comes from the environment', () => {
    const cfg = parse(compose.configs['metagate-config'].content) as Obj;
    expect(cfg.sovereignty.allowedRanges).toEqual([compose.networks.trial.ipam.config[0].subnet]);
    expect(cfg.admin.tokens[0].secret).toEqual({ env: 'METAGATE_ADMIN_TOKEN' });
    expect(s.metagate!.environment.METAGATE_ADMIN_TOKEN).toMatch(/^\$\{METAGATE_ADMIN_TOKEN:\?/);
    expect(cfg.audit.destination.startsWith('/var/lib/metagate/')).toBe(true);
    expect(s.metagate!.volumes).toContain('audit:/var/lib/metagate');
    // stop grace above the drain time
    expect(Number(String(s.metagate!.stop_grace_period).replace('s', '')) * 1000).toBeGreaterThan(cfg.vendor.shutdownGraceMs);
  });
});
