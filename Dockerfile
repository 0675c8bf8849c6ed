# metagate container: build with the full toolchain, run with production dependencies only, as a non-root user on a
# read-only root filesystem. The only writable path is the audit volume (/var/lib/metagate).
#
#   docker build -t metagate:0.1.0 .
#   docker run --read-only -v metagate-audit:/var/lib/metagate -v ./metagate.yaml:/etc/metagate/metagate.yaml:ro metagate:0.1.0
#
# Pin the base image by digest in your registry mirror (node:24.22.3-bookworm-slim@sha256:…) once it is mirrored.

ARG NODE_IMAGE=node:24.22.3-bookworm-slim

# ---------------------------------------------------------------- build: compile TypeScript, check licences, SBOM
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY config ./config
COPY scripts ./scripts
RUN npm run build \
 && node --import tsx scripts/licenses.ts \
 && node --import tsx scripts/sbom.ts dist/sbom.cdx.json

# ---------------------------------------------------------------- runtime
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="metagate" \
      org.opencontainers.image.description="Fail-closed, metadata-only access gateway for vendor support engineers" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="EUPL-1.2" \
      org.opencontainers.image.base.name="docker.io/library/node:24.22.3-bookworm-slim" \
      org.opencontainers.image.vendor="metagate"

ENV NODE_ENV=production \
    METAGATE_CONFIG=/etc/metagate/metagate.yaml \
    npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

# a fixed, unprivileged uid/gid that Kubernetes securityContext and volume ownership can name
RUN groupadd --system --gid 10001 metagate \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin metagate \
 && mkdir -p /var/lib/metagate /etc/metagate \
 && chown 10001:10001 /var/lib/metagate

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force && rm -rf /root/.npm /tmp/*
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/sbom.cdx.json ./dist/sbom.cdx.json
COPY config/profiles ./config/profiles

USER 10001:10001
VOLUME ["/var/lib/metagate"]
# vendor listener, admin listener (health, readiness, metrics, admin API)
EXPOSE 8080 9090

# no curl in the slim image: node itself asks the admin listener's /healthz (override the URL if the admin port moves)
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "const u=new URL(process.env.METAGATE_HEALTHCHECK_URL||'http://127.0.0.1:9090/healthz');require(u.protocol==='https:'?'node:https':'node:http').get(u,{timeout:2000,rejectUnauthorized:false},(r)=>{r.resume();process.exit(r.statusCode===200?0:1)}).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]

# SIGTERM drains in-flight requests (vendor.shutdownGraceMs), SIGHUP reloads the configuration
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve", "--config", "/etc/metagate/metagate.yaml"]
