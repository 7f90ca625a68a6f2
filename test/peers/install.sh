#!/usr/bin/env bash
# Installs the real peers the e2e suites run against (issue 7). Run as root on a clean Debian
# machine; running it again on a machine that has everything is a fast no-op.
#
#   test/peers/install.sh [all|cni|kube|moto|redis|node|helm|prometheus|image|vpc]...
#
# Debian packages come from apt; the upstream CNI plugins, cnitool, kube-apiserver, etcd and kubelet are
# built from the Go module proxy; moto goes into a virtualenv. Everything not from apt lives under
# ${ENI_IPAM_PEERS_DIR:-$HOME/.cache/eni-ipam-peers}, in directories named by version, so a version
# bump installs beside the old one instead of mixing binaries. docs/test-peers.md has the details.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
peers_dir="${ENI_IPAM_PEERS_DIR:-$HOME/.cache/eni-ipam-peers}"
bin_dir="$peers_dir/bin"
# The Go build cache is ours too: "cold build" then means the same thing on every machine, and a
# shared ~/.cache/go-build on a busy CI host is not polluted by 2 GB of Kubernetes objects.
export GOCACHE="$peers_dir/go-build"
# Build static binaries: no C toolchain needed on the CI machine.
export CGO_ENABLED=0
# One package at a time by default, at low priority: the kube build takes long either way and the
# rest of a shared machine (other jobs, other tests) keeps moving. A dedicated CI machine can raise
# ENI_IPAM_PEERS_BUILD_JOBS.
go_build_flags=(-p="${ENI_IPAM_PEERS_BUILD_JOBS:-1}" -trimpath)

fail() { # fail PEER WHY...
  local peer="$1"
  shift
  echo "test/peers/install.sh: peer '$peer' could not be installed: $*" >&2
  exit 1
}
note() { echo "test/peers/install.sh: $*" >&2; }

# ---- apt ---------------------------------------------------------------------------------------
apt_updated=0
apt_install() { # apt_install PEER PACKAGE...
  local peer="$1"
  shift
  local missing=() pkg
  for pkg in "$@"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]]; then
      missing+=("$pkg")
    fi
  done
  ((${#missing[@]} == 0)) && return 0
  command -v apt-get >/dev/null || fail "$peer" "Debian packages ${missing[*]} are missing and apt-get is not available"
  ((EUID == 0)) || fail "$peer" "Debian packages ${missing[*]} are missing; run test/peers/install.sh as root"
  # Another apt run (unattended-upgrades, a parallel job) may hold the lock: wait, never break it.
  local apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
  if ((apt_updated == 0)); then
    note "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update -qq ||
      fail "$peer" "apt-get update failed"
    apt_updated=1
  fi
  note "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" ||
    fail "$peer" "apt-get install ${missing[*]} failed"
}

# ---- Go ----------------------------------------------------------------------------------------
require_go() { # require_go PEER MINIMUM_MINOR
  local peer="$1" minimum_minor="$2" version
  command -v go >/dev/null ||
    fail "$peer" "Go is not installed (need go1.${minimum_minor} or newer: https://go.dev/dl/; Debian bookworm's golang-go is too old)"
  version="$(go env GOVERSION)"
  if [[ ! "$version" =~ ^go1\.([0-9]+) ]] || ((BASH_REMATCH[1] < minimum_minor)); then
    fail "$peer" "found $version, need go1.${minimum_minor} or newer"
  fi
}

# go_install_into PEER DIR MODULE_PATH@VERSION...: go install into DIR, atomically (a half-built
# directory is never mistaken for a finished one by the next run).
go_install_into() {
  local peer="$1" dir="$2"
  shift 2
  local tmp="$dir.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  note "go install $* (into $dir)"
  GOBIN="$tmp" nice -n 10 go install "${go_build_flags[@]}" "$@" ||
    { rm -rf "$tmp"; fail "$peer" "go install $* failed"; }
  rm -rf "$dir"
  mv "$tmp" "$dir"
}

install_cni() {
  # Debian's reference plugins (CNI up to 1.0.0) in /usr/lib/cni; iproute2 for `ip netns`.
  apt_install cni containernetworking-plugins iproute2
  [[ -x /usr/lib/cni/ptp && -x /usr/lib/cni/host-local ]] ||
    fail cni "containernetworking-plugins is installed but /usr/lib/cni/ptp or host-local is missing"
  local plugins="$bin_dir/cni-plugins-$CNI_PLUGINS_VERSION"
  if [[ ! -x "$plugins/ptp" || ! -x "$plugins/bridge" || ! -x "$plugins/host-local" ]]; then
    require_go cni 24
    go_install_into cni "$plugins" \
      "github.com/containernetworking/plugins/plugins/main/ptp@$CNI_PLUGINS_VERSION" \
      "github.com/containernetworking/plugins/plugins/main/bridge@$CNI_PLUGINS_VERSION" \
      "github.com/containernetworking/plugins/plugins/ipam/host-local@$CNI_PLUGINS_VERSION"
  fi
  local cnitool="$bin_dir/cnitool-$CNITOOL_VERSION"
  if [[ ! -x "$cnitool/cnitool" ]]; then
    require_go cni 24
    go_install_into cni "$cnitool" "github.com/containernetworking/cni/cnitool@$CNITOOL_VERSION"
  fi
  note "cni: ok (/usr/lib/cni, $plugins, $cnitool)"
}

# kube_ldflags: the -ldflags of a Kubernetes binary built from test/peers/kube. Without the -X values
# the binaries report v0.0.0-master as their version; they mirror hack/lib/version.sh.
kube_ldflags() {
  local minor="${K8S_VERSION#v1.}"
  minor="${minor%%.*}"
  local ldflags="-s -w"
  ldflags+=" -X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
  ldflags+=" -X k8s.io/component-base/version.gitMinor=$minor"
  ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  printf '%s' "$ldflags"
}

install_kube() {
  local module="$here/kube"
  # The committed go.mod/go.sum are the build's lock; versions.env only names the cache key.
  grep -qE "^[[:space:]]*k8s\.io/kubernetes $K8S_VERSION( |$)" "$module/go.mod" &&
    grep -qE "^[[:space:]]*go\.etcd\.io/etcd/server/v3 $ETCD_VERSION( |$)" "$module/go.mod" ||
    fail kube "test/peers/kube/go.mod does not require k8s.io/kubernetes $K8S_VERSION and etcd $ETCD_VERSION (versions.env); run test/peers/kube/generate-go-mod.sh $K8S_VERSION"
  local out="$bin_dir/kube-$K8S_VERSION-etcd-$ETCD_VERSION"
  if [[ -x "$out/kube-apiserver" && -x "$out/etcd" ]]; then
    note "kube: ok ($out)"
    return 0
  fi
  require_go kube 26
  local ldflags
  ldflags="$(kube_ldflags)"
  local tmp="$out.tmp.$$" started=$SECONDS
  rm -rf "$tmp"
  mkdir -p "$tmp"
  note "kube: building kube-apiserver $K8S_VERSION and etcd $ETCD_VERSION (a cold build takes long; see docs/test-peers.md)"
  (
    cd "$module"
    # -mod=readonly: the build must use exactly the committed go.sum.
    nice -n 10 go build -mod=readonly "${go_build_flags[@]}" -ldflags "$ldflags" \
      -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver &&
      nice -n 10 go build -mod=readonly "${go_build_flags[@]}" -ldflags "-s -w" \
        -o "$tmp/etcd" go.etcd.io/etcd/server/v3
  ) || { rm -rf "$tmp"; fail kube "go build of kube-apiserver/etcd in test/peers/kube failed"; }
  "$tmp/etcd" --version >/dev/null || { rm -rf "$tmp"; fail kube "the built etcd does not run"; }
  "$tmp/kube-apiserver" --version >/dev/null || { rm -rf "$tmp"; fail kube "the built kube-apiserver does not run"; }
  rm -rf "$out"
  mv "$tmp" "$out"
  note "kube: built $out in $((SECONDS - started)) s"
}

install_node() {
  # A Kubernetes node for the kubelet suite (docs/e2e.md): containerd and runc from Debian,
  # busybox-static and umoci to assemble the pause and workload images without a registry, and the
  # kubelet built from the same wrapper module and release as kube-apiserver.
  apt_install node containerd runc busybox-static umoci iproute2 util-linux curl
  # The images are rebuilt when busybox or the script that assembles them changes.
  local images="$peers_dir/node-images" stamp
  stamp="busybox-static $(dpkg-query -W -f='${Version}' busybox-static) $(sha256sum "$here/node/build-images.sh" | cut -d' ' -f1)"
  if [[ ! -f "$images/pause.tar" || ! -f "$images/workload.tar" || "$(cat "$images/.stamp" 2>/dev/null)" != "$stamp" ]]; then
    rm -rf "$images"
    "$here/node/build-images.sh" "$images" >&2 || fail node "test/peers/node/build-images.sh failed"
    echo "$stamp" >"$images/.stamp"
  fi
  local module="$here/kube"
  grep -qE "^[[:space:]]*k8s\.io/kubernetes $K8S_VERSION( |$)" "$module/go.mod" &&
    grep -qE "^[[:space:]]*k8s\.io/kubernetes/cmd/kubelet$" "$module/go.mod" ||
    fail node "test/peers/kube/go.mod does not build the kubelet of k8s.io/kubernetes $K8S_VERSION (versions.env); run test/peers/kube/generate-go-mod.sh $K8S_VERSION"
  local out="$bin_dir/kubelet-$K8S_VERSION"
  if [[ -x "$out/kubelet" ]]; then
    note "node: ok ($out, containerd $(containerd --version | awk '{print $3}'))"
    return 0
  fi
  require_go node 26
  local ldflags
  ldflags="$(kube_ldflags)"
  local tmp="$out.tmp.$$" started=$SECONDS
  rm -rf "$tmp"
  mkdir -p "$tmp"
  note "node: building kubelet $K8S_VERSION (shares most packages with kube-apiserver's build cache)"
  (
    cd "$module"
    nice -n 10 go build -mod=readonly "${go_build_flags[@]}" -ldflags "$ldflags" \
      -o "$tmp/kubelet" k8s.io/kubernetes/cmd/kubelet
  ) || { rm -rf "$tmp"; fail node "go build of the kubelet in test/peers/kube failed"; }
  "$tmp/kubelet" --version >/dev/null || { rm -rf "$tmp"; fail node "the built kubelet does not run"; }
  rm -rf "$out"
  mv "$tmp" "$out"
  note "node: built $out in $((SECONDS - started)) s"
}

install_moto() {
  # Debian splits venv (and the ensurepip it needs) out of python3.
  command -v python3 >/dev/null && python3 -c "import ensurepip, venv" 2>/dev/null ||
    apt_install moto python3 python3-venv
  local venv="$peers_dir/moto-$MOTO_VERSION"
  # A virtualenv writes its own path into its scripts, so it is built in place; the marker file is
  # written last, so an interrupted install is redone rather than trusted.
  if [[ -f "$venv/.installed" ]]; then
    note "moto: ok ($venv)"
    return 0
  fi
  rm -rf "$venv"
  note "moto: pip install moto[server]==$MOTO_VERSION into $venv"
  python3 -m venv "$venv" || fail moto "python3 -m venv $venv failed"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    -c "$here/moto-constraints.txt" "moto[server]==$MOTO_VERSION" ||
    fail moto "pip install moto[server]==$MOTO_VERSION failed"
  "$venv/bin/moto_server" --help >/dev/null || fail moto "moto_server does not run after installation"
  touch "$venv/.installed"
  note "moto: ok ($venv)"
}

install_helm() {
  # helm's module has no replace directives, so a plain `go install` of the release builds it.
  local out="$bin_dir/helm-$HELM_VERSION"
  if [[ -x "$out/helm" ]]; then
    note "helm: ok ($out)"
    return 0
  fi
  require_go helm 26
  local started=$SECONDS
  # Without the -X the binary reports v4.x-dev-style placeholders in `helm version`.
  go_install_into helm "$out" \
    "-ldflags=-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
  "$out/helm" version --short >/dev/null || fail helm "the built helm does not run"
  note "helm: built $out in $((SECONDS - started)) s"
}

install_prometheus_operator_crds() {
  # The PodMonitor and PrometheusRule CRDs, so the API server can dry-run the chart's objects of
  # those kinds: taken from the Prometheus Operator's own module (its example/ folder) on the Go
  # module proxy, which checks the download against go.sum's database.
  local out="$bin_dir/prometheus-operator-crds-$PROMETHEUS_OPERATOR_VERSION"
  if [[ -f "$out/monitoring.coreos.com_podmonitors.yaml" && -f "$out/monitoring.coreos.com_prometheusrules.yaml" ]]; then
    note "prometheus-operator CRDs: ok ($out)"
    return 0
  fi
  require_go helm 24
  local module="github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" dir
  dir="$(go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -n "$dir" && -d "$dir/example/prometheus-operator-crd" ]] ||
    fail helm "go mod download $module did not give example/prometheus-operator-crd"
  local tmp="$out.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  cp "$dir/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml" \
    "$dir/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" "$tmp/" ||
    { rm -rf "$tmp"; fail helm "copying the CRDs out of $dir failed"; }
  chmod 644 "$tmp"/*.yaml
  rm -rf "$out" && mv "$tmp" "$out"
  note "prometheus-operator CRDs: ok ($out)"
}

install_prometheus() {
  # Debian's server and promtool. On a machine whose services start on install, keep this one
  # from starting (a policy-rc.d that refuses every start, removed again afterwards): the tests run
  # their own server on loopback.
  local policy=/usr/sbin/policy-rc.d added_policy=0
  if [[ "$(dpkg-query -W -f='${Status}' prometheus 2>/dev/null)" != "install ok installed" &&
    ! -e "$policy" && $EUID -eq 0 ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
  fi
  apt_install prometheus prometheus
  ((added_policy == 0)) || rm -f "$policy"
  command -v promtool >/dev/null || fail prometheus "promtool is not on PATH after installation"
  note "prometheus: ok ($(command -v prometheus), $(command -v promtool))"
}

install_image() {
  # The image build (deploy/image/build-image.sh) and its test: Debian's mmdebstrap makes the root
  # filesystem from Debian packages, umoci assembles the OCI image, runc runs it.
  apt_install image mmdebstrap umoci runc
  note "image: ok (mmdebstrap, umoci, runc)"
}

install_vpc() {
  # The emulated VPC of the datapath suites (test/peers/vpc/): network namespaces and veths
  # (iproute2), the source/destination check and the NAT gateway (nftables), and the iptables that
  # Debian's portmap plugin drives (iptables-nft). The agent under test uses iproute2 and nftables.
  install_cni
  apt_install vpc iproute2 nftables iptables
  local tool
  for tool in ip nft iptables; do
    command -v "$tool" >/dev/null || [[ -x "/usr/sbin/$tool" ]] || fail vpc "$tool is not installed after apt-get install"
  done
  [[ -x /usr/lib/cni/portmap ]] || fail vpc "containernetworking-plugins is installed but /usr/lib/cni/portmap is missing"
  note "vpc: ok (iproute2, nftables, iptables, /usr/lib/cni/portmap)"
}

install_redis() {
  apt_install redis redis-server
  command -v redis-server >/dev/null || fail redis "redis-server is not on PATH after installation"
  note "redis: ok ($(command -v redis-server))"
}

main() {
  local targets=("$@")
  ((${#targets[@]} > 0)) || targets=(all)
  local target
  for target in "${targets[@]}"; do
    case "$target" in
      all) install_cni; install_vpc; install_redis; install_moto; install_helm; install_prometheus_operator_crds; install_prometheus; install_image; install_kube; install_node ;;
      cni) install_cni ;;
      kube) install_kube ;;
      node) install_node ;;
      moto) install_moto ;;
      redis) install_redis ;;
      helm) install_helm; install_prometheus_operator_crds ;;
      prometheus) install_prometheus ;;
      image) install_image ;;
      vpc) install_vpc ;;
      *) echo "usage: test/peers/install.sh [all|cni|kube|moto|redis|node|helm|prometheus|image|vpc]..." >&2; exit 2 ;;
    esac
  done
}

main "$@"
