# syntax=docker/dockerfile:1
# The eni-ipam image: the agent (`eni-ipam agent`, run by deploy/daemonset.yaml), the operator
# commands, and the CNI plugin as a single executable that the init container installs on the host.
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/eni-ipam:0.1.0 .
#
# Each platform's build stage runs on that platform (natively or under emulation), so the plugin
# is made from the node binary of the host architecture it will run on. That binary needs glibc
# 2.28 or later on the host: Amazon Linux 2023, Bottlerocket, Ubuntu 20.04+ (not Amazon Linux 2).
# Pin the base further by digest (node:24.22.3-bookworm-slim@sha256:...) in the release pipeline.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

# ---- build: every dependency, the compiled JavaScript and the plugin executable ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY ipam ./ipam
COPY provider ./provider
COPY datapath ./datapath
COPY agent ./agent
COPY sim ./sim
COPY cni ./cni
COPY cli ./cli
COPY time ./time
COPY scripts ./scripts
RUN npm run build
# Bundles cni/ into one file, makes it a Node.js single executable application, and runs it once.
RUN node dist/scripts/build-cni-plugin.js --out-dir /out/cni

# ---- production dependencies only ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# ---- the image ----
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /out/cni/eni-ipam /opt/eni-ipam/cni/eni-ipam
COPY deploy/image/install-cni.sh /opt/eni-ipam/install-cni.sh
# The default conflist; the DaemonSet mounts its ConfigMap over this directory.
COPY deploy/conflist/10-eni-ipam.conflist /etc/eni-ipam/cni/10-eni-ipam.conflist
# Non-root by default: `eni-ipam status`, `plan` and `max-pods` need no privilege. The DaemonSet
# runs the agent and the installer as uid 0 with every capability dropped, only to own root's
# files on the host (deploy/daemonset.yaml says why).
USER node
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
