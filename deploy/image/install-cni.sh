#!/bin/sh
# Installs the eni-ipam CNI plugin executable and its conflist on the host; run by the DaemonSet's
# init container with the host's /opt/cni/bin and /etc/cni/net.d mounted.
#
# Every file is written under a temporary name in its destination directory and then renamed:
# rename(2) within one directory is atomic, so the container runtime, which may exec the plugin or
# read the conflist at any moment, sees either the old file or the new one, never a partial one.
# Renaming over the old binary is also safe while it runs (writing into it would fail with ETXTBSY).
#
# Environment (defaults in brackets):
#   CNI_BIN_DIR           host /opt/cni/bin as mounted here        [/host/opt/cni/bin]
#   CNI_NET_DIR           host /etc/cni/net.d as mounted here      [/host/etc/cni/net.d]
#   PLUGIN_SOURCE         the executable to install as eni-ipam    [/opt/eni-ipam/cni/eni-ipam]
#   CONFLIST_SOURCE       the conflist to install                  [/etc/eni-ipam/cni/10-eni-ipam.conflist]
#   DISABLE_CNI_CONFIGS   space-separated file names in CNI_NET_DIR to rename to NAME.disabled-by-eni-ipam,
#                         so that the runtime, which uses the first config in lexical order, picks ours
#                         (10-aws.conflist, left by aws-node, sorts before 10-eni-ipam.conflist)   [empty]
set -eu

CNI_BIN_DIR="${CNI_BIN_DIR:-/host/opt/cni/bin}"
CNI_NET_DIR="${CNI_NET_DIR:-/host/etc/cni/net.d}"
PLUGIN_SOURCE="${PLUGIN_SOURCE:-/opt/eni-ipam/cni/eni-ipam}"
CONFLIST_SOURCE="${CONFLIST_SOURCE:-/etc/eni-ipam/cni/10-eni-ipam.conflist}"
DISABLE_CNI_CONFIGS="${DISABLE_CNI_CONFIGS:-}"

log() { echo "install-cni: $*" >&2; }

# install_atomically SOURCE DIR NAME MODE
install_atomically() {
  src="$1"; dir="$2"; name="$3"; mode="$4"
  if [ ! -f "$src" ]; then log "missing $src"; exit 1; fi
  if [ ! -d "$dir" ]; then log "missing directory $dir (is the hostPath mounted?)"; exit 1; fi
  tmp="$dir/.$name.eni-ipam-tmp.$$"
  # A temp file left by an install killed half-way is removed, not renamed into place.
  trap 'rm -f "$tmp"' EXIT
  cp "$src" "$tmp"
  chmod "$mode" "$tmp"
  # Data on disk before the rename makes the new name visible: a power cut cannot leave an empty file.
  sync "$tmp" 2>/dev/null || sync
  mv -f "$tmp" "$dir/$name"
  trap - EXIT
  log "installed $dir/$name"
}

# The binary first: a conflist naming a plugin that is not there yet would fail every pod ADD.
install_atomically "$PLUGIN_SOURCE" "$CNI_BIN_DIR" eni-ipam 0755

case "$(tr -d ' \t\r\n' < "$CONFLIST_SOURCE" 2>/dev/null | head -c 1 || true)" in
  '{') ;;
  *) log "$CONFLIST_SOURCE is not a JSON object"; exit 1 ;;
esac
conflist_name="$(basename "$CONFLIST_SOURCE")"

# Ours before disabling the others, so that the directory never holds no config at all.
install_atomically "$CONFLIST_SOURCE" "$CNI_NET_DIR" "$conflist_name" 0644

for other in $DISABLE_CNI_CONFIGS; do
  if [ "$other" = "$conflist_name" ]; then continue; fi
  if [ -f "$CNI_NET_DIR/$other" ]; then
    mv -f "$CNI_NET_DIR/$other" "$CNI_NET_DIR/$other.disabled-by-eni-ipam"
    log "disabled $CNI_NET_DIR/$other (renamed to $other.disabled-by-eni-ipam)"
  fi
done
