# fedbridge: build, then run the compiled bridge as an unprivileged user.
# Node 24 is an LTS line in maintenance until April 2028 (Node 20 reached end of life in April 2026);
# package.json `engines` (>=20.19.0) is what the code runs on, and CI tests it on Node 20.
# Override with --build-arg NODE_IMAGE=... (e.g. a digest-pinned or mirrored image).
ARG NODE_IMAGE=node:24-trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY public ./public
COPY config ./config
COPY metadata ./metadata
# The image holds no key and no generated metadata (.dockerignore): keys and the metadata that
# trusts them are mounted together (compose: the dev-keys volume; Kubernetes: a Secret and a
# ConfigMap). certs/ is the only directory the bridge's own user may write to, for dev-keys.
RUN mkdir -p certs && chown node:node certs
USER node
EXPOSE 8080
# SIGTERM drains (readyz 503, in-flight exchanges finish, Redis closes; exit 0, or 3 if cut short).
STOPSIGNAL SIGTERM
# Production mode: one worker per CPU (FEDBRIDGE_WORKERS=N to choose), which needs the Redis replay
# store; set FEDBRIDGE_CONFIG to your config. Node itself is PID 1 (exec form): it gets the signal.
CMD ["node", "dist/src/cluster.js"]
