# fedbridge: build, then run the compiled bridge as an unprivileged user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY public ./public
COPY config ./config
COPY metadata ./metadata
RUN mkdir -p certs && chown -R node:node certs metadata
USER node
EXPOSE 8080
# Development keys are created on first start if the config points at missing ones; mount real
# keys and your own config (FEDBRIDGE_CONFIG) in production. Production mode: one worker per CPU
# (FEDBRIDGE_WORKERS=N to choose), which needs the Redis replay store (README "Production mode");
# a config with the memory store runs with FEDBRIDGE_WORKERS=1.
CMD ["sh", "-c", "node dist/scripts/dev-keys.js && exec node dist/src/cluster.js"]
