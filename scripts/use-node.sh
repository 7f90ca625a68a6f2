# shellcheck shell=bash
# Puts the project's pinned Node.js LTS (the version in .node-version) first on PATH, installing it
# first if it is missing. Source it, once per shell:
#
#   source scripts/use-node.sh
#
# The machine's own Node may be past its end of life (Debian bookworm ships 18, this image 20); the
# project runs, builds and tests on the pinned LTS only. The binary comes from the npm registry's
# official `node-linux-<arch>` package (the same build nodejs.org publishes), so no other download
# site is needed. It lives under ${ENI_IPAM_NODE_DIR:-$HOME/.cache/eni-ipam-node}/v<version>, one
# directory per version, written atomically so an interrupted install is redone, never trusted.
# npm itself stays the machine's; it runs on whichever node is first on PATH.

eni_ipam_use_node() {
  local root here version arch dir tmp tarball
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  version="$(tr -d ' \n\r' <"$here/.node-version")"
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || {
    echo "scripts/use-node.sh: .node-version holds '$version', not a version like 24.22.3" >&2
    return 1
  }
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "scripts/use-node.sh: no Node.js package for machine type $(uname -m)" >&2; return 1 ;;
  esac
  root="${ENI_IPAM_NODE_DIR:-$HOME/.cache/eni-ipam-node}"
  dir="$root/v$version"
  if [[ ! -x "$dir/bin/node" ]]; then
    command -v npm >/dev/null || {
      echo "scripts/use-node.sh: npm is needed once to fetch node-linux-$arch@$version" >&2
      return 1
    }
    echo "scripts/use-node.sh: installing Node.js $version (node-linux-$arch) into $dir" >&2
    mkdir -p "$root"
    tmp="$(mktemp -d "$root/.install.XXXXXX")" || return 1
    # npm pack checks the tarball against the registry's integrity hash.
    tarball="$(cd "$tmp" && npm pack --silent "node-linux-$arch@$version")" &&
      tar -xzf "$tmp/$tarball" -C "$tmp" &&
      "$tmp/package/bin/node" --version >/dev/null &&
      rm -rf "$dir" && mv "$tmp/package" "$dir" || {
      rm -rf "$tmp"
      echo "scripts/use-node.sh: could not install node-linux-$arch@$version" >&2
      return 1
    }
    rm -rf "$tmp"
  fi
  case ":$PATH:" in
    *":$dir/bin:"*) ;;
    *) export PATH="$dir/bin:$PATH" ;;
  esac
}

eni_ipam_use_node
