# syntax=docker/dockerfile:1
# Build stage: generate Envoy API types from the pinned protos and compile.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY proto ./proto
COPY scripts ./scripts
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime stage: compiled JS and production dependencies only, as an unprivileged user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
RUN chmod +x dist/cli/main.js && ln -s /app/dist/cli/main.js /usr/local/bin/meshpilot
USER 65532:65532
EXPOSE 15010 15014
ENTRYPOINT ["meshpilot", "serve"]
