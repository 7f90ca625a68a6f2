# syntax=docker/dockerfile:1
# The eni-ipam image: the agent (`eni-ipam agent`, run by deploy/daemonset.yaml), the operator
# commands, and the CNI plugin as a single executable that the init container installs on the host.
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/eni-ipam:0.1.0 .
#
# Without Docker, deploy/image/build-image.sh builds the same image (same files, layout, entrypoint
# and labels; test/e2e/image.test.ts compares them) from Debian packages and the pinned Node.js.
#
# Each platform's build stage runs on that platform (natively or under emulation), so the plugin
# is made from the node binary of the host architecture it will run on. That binary needs glibc
# 2.28 or later on the host: Amazon Linux 2023, Bottlerocket, Ubuntu 20.04+ (not Amazon Linux 2).
# Pin the base further by digest (node:24.22.3-bookworm-slim@sha256:...) in the release pipeline.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim
# package.json's version (a test keeps them equal); the image's version label.
ARG VERSION=0.1.0

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
# The compile cache the build makes for the benchmark is not shipped (scripts/build-agent-bundle.ts).
RUN npm run build && rm -rf dist/bundle-compile-cache
# Bundles cni/ into one file, makes it a Node.js single executable application, and runs it once.
RUN node dist/scripts/build-cni-plugin.js --out-dir /out/cni

# ---- production dependencies only ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Type declarations, source maps and documentation are never loaded at run time: about half the size.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force && \
    find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' \) -delete

# ---- the image ----
FROM ${NODE_IMAGE}
ARG VERSION
LABEL org.opencontainers.image.title=eni-ipam \
      org.opencontainers.image.version=${VERSION} \
      org.opencontainers.image.licenses=Apache-2.0
# The node's datapath (datapath/) programs routes, rules and nftables through these.
RUN apt-get update && apt-get install -y --no-install-recommends iproute2 nftables && \
    rm -rf /var/lib/apt/lists/*
# How the agent runs, as `npm run bench` measures it (scripts/build-agent-bundle.ts: AGENT_NODE_FLAGS
# in the entrypoint, AGENT_PROCESS_ENV here): glibc gives freed blocks of 16 kB and more back to the
# system instead of keeping them in its heap.
ENV NODE_ENV=production GLIBC_TUNABLES=glibc.malloc.mmap_threshold=16384
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
# The eni-ipam command from its bundle (dist/bundle), with the V8 settings of a small long-lived heap
# and no optimizing compilers.
ENTRYPOINT ["node", "--max-semi-space-size=1", "--optimize-for-size", "--no-opt", "--no-maglev", "/app/dist/bundle/eni-ipam.mjs"]
CMD ["--help"]
