#!/usr/bin/env bash
# Builds the eni-ipam OCI image without Docker and without Docker Hub: the same files, layout and
# entrypoint as the Dockerfile (test/deploy/dockerfile.test.ts holds the two together), from
#   - a root filesystem of Debian packages made by mmdebstrap (glibc and libstdc++ for Node.js,
#     iproute2 and nftables for the datapath, dash and coreutils for install-cni.sh),
#   - the pinned Node.js (.node-version) from the npm registry's node-linux-<arch> package, the one
#     scripts/use-node.sh installs,
#   - what `npm run build` made (dist/), the production node_modules and the CNI plugin executable,
# assembled by umoci into an OCI image layout (two layers: the base, then the application).
#
#   deploy/image/build-image.sh OUT_DIR      (as root; after `npm ci` and `npm run build`)
#
# OUT_DIR/oci is the image layout, tagged with package.json's version; copy it to a registry with
# e.g. `skopeo copy oci:OUT_DIR/oci:0.1.0 docker://<registry>/eni-ipam:0.1.0`. The base layer's root
# filesystem is cached by content (Debian suite, package list, Node.js version, architecture) under
# ${ENI_IPAM_PEERS_DIR:-$HOME/.cache/eni-ipam-peers}/image-rootfs, since mmdebstrap takes a while
# (ENI_IPAM_IMAGE_ROOTFS_CACHE=off builds it afresh, for release builds).
# Needs mmdebstrap and umoci (test/peers/install.sh image).
set -euo pipefail

out="${1:?usage: deploy/image/build-image.sh OUT_DIR}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fail() { echo "build-image.sh: $*" >&2; exit 1; }
note() { echo "build-image.sh: $*" >&2; }

((EUID == 0)) || fail "run as root (mmdebstrap's root mode and umoci keep file ownership)"
for tool in mmdebstrap umoci; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run test/peers/install.sh image"
done
# shellcheck source=../../scripts/use-node.sh
source "$repo/scripts/use-node.sh"
node_bin="$(command -v node)"
version="$(node -p 'require(process.argv[1]).version' "$repo/package.json")"
node_version="$(node -p 'process.versions.node')"
[[ -f "$repo/dist/cli/main.js" && -f "$repo/dist/scripts/build-cni-plugin.js" ]] ||
  fail "dist/ is missing: run npm run build first"

case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) fail "no image for machine type $(uname -m)" ;;
esac
suite=bookworm
# How the agent runs, as `npm run bench` measures it (scripts/build-agent-bundle.ts: AGENT_NODE_FLAGS,
# AGENT_PROCESS_ENV); test/e2e/image.test.ts holds them equal.
agent_flags=(--max-semi-space-size=1 --optimize-for-size --no-opt --no-maglev)
glibc_tunables=glibc.malloc.mmap_threshold=16384
# Debian's Essential set (what maintainer scripts need: a shell, coreutils, dpkg; no apt) and what
# the image runs: libstdc++ for Node.js, iproute2 and nftables for the datapath, netbase for
# /etc/protocols. dpkg's database stays so that image scanners can list the packages.
packages=(libstdc++6 netbase iproute2 nftables)

# ---- the base root filesystem, cached by content ------------------------------------------------
peers_dir="${ENI_IPAM_PEERS_DIR:-$HOME/.cache/eni-ipam-peers}"
# Documentation, manual pages and translations are never read in a container: not installed.
mmdebstrap_args=(
  --mode=root --variant=essential --arch="$arch" --include="${packages[*]}"
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/lintian/*'
  --customize-hook='rm -rf "$1"/var/cache/* "$1"/var/lib/apt/lists/* "$1"/var/log/*'
  "$suite"
)
# The cache key is everything mmdebstrap is told. A cached root filesystem does not pick up Debian's
# later security updates: release builds set ENI_IPAM_IMAGE_ROOTFS_CACHE=off to build it afresh.
key="$(printf '%s\n' "${mmdebstrap_args[@]}" | sha256sum | cut -c1-16)"
rootfs_tar="$peers_dir/image-rootfs/$suite-$arch-$key.tar"
if [[ "${ENI_IPAM_IMAGE_ROOTFS_CACHE:-on}" == off ]]; then
  rm -f "$rootfs_tar"
fi
if [[ ! -f "$rootfs_tar" ]]; then
  mkdir -p "$(dirname "$rootfs_tar")"
  started=$SECONDS
  note "mmdebstrap $suite (${packages[*]}) -> $rootfs_tar"
  mmdebstrap "${mmdebstrap_args[@]}" "$rootfs_tar.tmp.tar" ||
    { rm -rf "$rootfs_tar.tmp.tar"; fail "mmdebstrap failed"; }
  mv "$rootfs_tar.tmp.tar" "$rootfs_tar"
  # One cached root filesystem per suite and architecture: the others are outdated.
  find "$(dirname "$rootfs_tar")" -maxdepth 1 -name "$suite-$arch-*.tar" ! -name "$(basename "$rootfs_tar")" -delete
  note "root filesystem built in $((SECONDS - started)) s"
fi

# ---- the application's files, laid out as the Dockerfile's final stage lays them out ---------------
work="$(mktemp -d "${TMPDIR:-/tmp}/eni-ipam-image.XXXXXX")"
trap 'rm -rf "$work"' EXIT
app="$work/app-root"
mkdir -p "$app/app" "$app/opt/eni-ipam/cni" "$app/etc/eni-ipam/cni" "$app/usr/local/bin"
cp "$repo/package.json" "$repo/package-lock.json" "$work/"
started=$SECONDS
note "npm ci --omit=dev (production dependencies)"
(cd "$work" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error) ||
  fail "npm ci --omit=dev failed"
# As the Dockerfile's deps stage: type declarations, source maps and documentation never load.
find "$work/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' \) -delete
cp "$repo/package.json" "$app/app/package.json"
mv "$work/node_modules" "$app/app/node_modules"
# dist/ as the build stage makes it: everything but the benchmarks, which the image does not build.
cp -a "$repo/dist" "$app/app/dist"
rm -rf "$app/app/dist/bench" "$app/app/dist/bundle-compile-cache"
note "building the CNI plugin executable"
(cd "$repo" && node dist/scripts/build-cni-plugin.js --out-dir "$work/cni" >&2) || fail "the plugin build failed"
install -m 0755 "$work/cni/eni-ipam" "$app/opt/eni-ipam/cni/eni-ipam"
install -m 0755 "$repo/deploy/image/install-cni.sh" "$app/opt/eni-ipam/install-cni.sh"
install -m 0644 "$repo/deploy/conflist/10-eni-ipam.conflist" "$app/etc/eni-ipam/cni/10-eni-ipam.conflist"
note "application files ready in $((SECONDS - started)) s"
started=$SECONDS

# ---- assemble -------------------------------------------------------------------------------
layout="$out/oci"
rm -rf "$layout"
mkdir -p "$out"
umoci init --layout "$layout"
umoci new --image "$layout:$version"
bundle="$work/bundle"
umoci unpack --image "$layout:$version" "$bundle" >/dev/null
# Layer 1: Debian, Node.js and the node user (uid 1000, as in the official node images).
tar -xf "$rootfs_tar" -C "$bundle/rootfs"
install -m 0755 "$node_bin" "$bundle/rootfs/usr/local/bin/node"
echo 'node:x:1000:1000::/home/node:/bin/sh' >>"$bundle/rootfs/etc/passwd"
echo 'node:x:1000:' >>"$bundle/rootfs/etc/group"
install -d -o 1000 -g 1000 "$bundle/rootfs/home/node"
umoci repack --image "$layout:$version" --history.created_by "Debian $suite (${packages[*]}), Node.js $node_version" "$bundle"
rm -rf "$bundle"
# Layer 2: the application.
umoci unpack --image "$layout:$version" "$bundle" >/dev/null
cp -a "$app/." "$bundle/rootfs/"
umoci repack --image "$layout:$version" --history.created_by "eni-ipam $version" "$bundle"
umoci config --image "$layout:$version" \
  --os linux --architecture "$arch" \
  --config.user node --config.workingdir /app \
  --config.env NODE_ENV=production \
  --config.env "GLIBC_TUNABLES=$glibc_tunables" \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.entrypoint node "${agent_flags[@]/#/--config.entrypoint=}" \
  --config.entrypoint /app/dist/bundle/eni-ipam.mjs --config.cmd --help \
  --config.label "org.opencontainers.image.title=eni-ipam" \
  --config.label "org.opencontainers.image.version=$version" \
  --config.label "org.opencontainers.image.licenses=Apache-2.0" \
  --history.created_by "eni-ipam $version: entrypoint and labels"
umoci gc --layout "$layout"
note "image $layout:$version assembled in $((SECONDS - started)) s"
