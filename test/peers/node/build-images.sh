#!/usr/bin/env bash
# Builds the two images the kubelet suite runs, without a registry: a sandbox ("pause") image and a
# workload image, both Debian's busybox-static in an otherwise empty root file system, assembled
# as OCI image layouts with umoci and written as OCI archives that `ctr images import` reads.
#
#   test/peers/node/build-images.sh OUT_DIR
#
# OUT_DIR/pause.tar    localhost/eni-ipam-e2e/pause:1     sleeps until killed (a sandbox only
#                                                         holds the pod's namespaces)
# OUT_DIR/workload.tar localhost/eni-ipam-e2e/workload:1  busybox httpd on :8080; GET
#                                                         /cgi-bin/name answers the pod's hostname
set -euo pipefail

out="${1:?usage: build-images.sh OUT_DIR}"
busybox=/bin/busybox
[[ -x "$busybox" ]] || { echo "build-images.sh: $busybox (busybox-static) is missing" >&2; exit 1; }
command -v umoci >/dev/null || { echo "build-images.sh: umoci is missing" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/eni-ipam-images.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# build NAME TAG ROOTFS_SETUP_FUNCTION ENTRYPOINT...
build() {
  local name="$1" tag="$2" setup="$3"
  shift 3
  local layout="$work/$name-layout" bundle="$work/$name-bundle"
  umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  umoci unpack --image "$layout:$tag" "$bundle"
  mkdir -p "$bundle/rootfs/bin"
  cp "$busybox" "$bundle/rootfs/bin/busybox"
  ln -s busybox "$bundle/rootfs/bin/sh"
  "$setup" "$bundle/rootfs"
  umoci repack --image "$layout:$tag" "$bundle"
  local entrypoint=() arg
  for arg in "$@"; do entrypoint+=(--config.entrypoint "$arg"); done
  umoci config --image "$layout:$tag" --os linux --architecture amd64 \
    --config.workingdir / --config.env PATH=/bin "${entrypoint[@]}"
  umoci gc --layout "$layout"
  # ctr names an OCI archive's image after its org.opencontainers.image.ref.name ("1") prefixed
  # by --base-name; the launcher passes localhost/eni-ipam-e2e/NAME.
  tar -C "$layout" -cf "$out/$name.tar.tmp" .
  mv "$out/$name.tar.tmp" "$out/$name.tar"
}

pause_rootfs() { :; }
workload_rootfs() {
  local rootfs="$1"
  mkdir -p "$rootfs/www/cgi-bin" "$rootfs/etc"
  printf 'ok\n' >"$rootfs/www/index.html"
  printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\n/bin/busybox hostname\n' >"$rootfs/www/cgi-bin/name"
  chmod 0755 "$rootfs/www/cgi-bin/name"
}

build pause 1 pause_rootfs /bin/busybox sleep 2147483647
build workload 1 workload_rootfs /bin/busybox httpd -f -p 8080 -h /www
echo "build-images.sh: wrote $out/pause.tar and $out/workload.tar"
