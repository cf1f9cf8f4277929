# syntax=docker/dockerfile:1
# audian-bridge: a multi-stage build. The build stage compiles TypeScript; the
# runtime stage holds only the compiled service and its production dependencies,
# runs as an unprivileged user and keeps its SQLite database and file outputs in
# a volume.
#
# scripts/container-test.sh builds this image and runs it on every CI run
# (docs/deployment.md).

ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
# The image runs on Node 22 or newer, where the SQLite driver is better-sqlite3 13
# (the `better-sqlite3-napi` alias, src/store/sqlite/driver.ts), whose package
# carries prebuilt Node-API binaries for Linux x64 and arm64. better-sqlite3 12,
# the Node 20 driver, would only compile here to lie unused: install scripts are
# skipped, so the image needs no compiler and no apt-get.
RUN node -e "if (Number(process.versions.node.split('.')[0]) < 22) { console.error('this image needs Node 22 or newer (NODE_VERSION): the Node 20 SQLite driver is not built in it'); process.exit(1) }"
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY connectors ./connectors
RUN npm run build
# Dev dependencies removed from the tree npm ci installed: the same packages as a
# second `npm ci --omit=dev`, without downloading them again.
RUN npm prune --omit=dev

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
# Fail closed: without AUDIAN_WEBHOOK_SECRET (or a mounted config whose unsigned
# sources say verify: { none: true }) the container does not start.
ENV AUDIAN_BRIDGE_REQUIRE_VERIFY=1
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json /app/package-lock.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
# The embedded default config writes under ./data; mount a config at
# /app/config.yaml (or set AUDIAN_BRIDGE_CONFIG) to change that.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM from `docker stop` reaches node directly (exec form): graceful shutdown.
CMD ["node", "dist/src/cli/main.js", "serve"]
