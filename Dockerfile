# syntax=docker/dockerfile:1
# ssehub on Node 20: `docker build -t ssehub .` then
#   docker run -p 3000:3000 -e SSEHUB_JWT_KEY=a-long-random-secret ssehub
# Settings are the README's table, as environment variables (or flags after the image name).
# History is kept in SQLite at /data/ssehub.db (a volume): a restarted container replays what its
# subscribers missed. Several containers as one hub: SSEHUB_REDIS_URL.

# Build: the whole toolchain (devDependencies), `npm run build` into dist/.
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: they fetch the Bun, Deno and workerd binaries the tests use, not the build.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

# Production dependencies, with better-sqlite3's native module built here (the slim image has no
# compiler; the module is built for Node 20 on bookworm, as the run stage is).
FROM node:20-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3

# Run: Node 20 slim with the production dependencies only, as the unprivileged `node` user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production PORT=3000 HOST=0.0.0.0 SSEHUB_HISTORY_FILE=/data/ssehub.db
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
VOLUME /data
COPY LICENSE README.md ./
USER node
EXPOSE 3000
# The slim image has no curl: Node's fetch asks /healthz (503 while the broker is down).
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node is PID 1 and the hub handles SIGTERM itself: `docker stop` ends every stream cleanly, exit 0.
CMD ["node", "--max-semi-space-size=2", "dist/runtimes/cli.js"]
