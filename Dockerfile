# syntax=docker/dockerfile:1
# The queen: `docker compose up` (see docker-compose.yml) or
#   docker build -t queen . && docker run -e QUEEN_API_TOKEN=... -e HOST=0.0.0.0 -p 7833:7833 -v queen-data:/app/data queen

FROM node:20-bookworm-slim AS build
WORKDIR /app
# sqlite3 downloads a prebuilt binary; this toolchain is the fallback when none fits the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ormconfig.ts ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    PORT=7833
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The data dir holds the SQLite database (when DATABASE_URL is not set) and
# secret.key, without which stored SSH secrets cannot be read: keep it on a volume.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
USER node
EXPOSE 7833
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 7833) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node as PID 1 gets SIGTERM from `docker stop`; the queen closes its server and database and exits 0.
CMD ["node", "dist/src/main.js"]
