/**
 * Where test/peers/install.sh put each real peer, and the error every e2e suite raises when one is
 * missing. The versions come from versions.env, the file install.sh sources, so the two cannot
 * disagree about which directory holds the binaries.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type PeerName = 'cni' | 'kube' | 'moto' | 'redis' | 'node' | 'helm' | 'prometheus' | 'image' | 'vpc';

/** A peer the suite needs is not installed: the message says which and how to install it. */
export class PeerMissingError extends Error {
  override readonly name = 'PeerMissingError';
  constructor(
    readonly peer: PeerName,
    what: string,
  ) {
    super(`peer '${peer}' is not installed: ${what}; run \`test/peers/install.sh ${peer}\` (as root)`);
  }
}

const peersSourceDir = dirname(fileURLToPath(import.meta.url));

export interface PeerVersions {
  readonly cniPlugins: string;
  readonly cnitool: string;
  readonly kubernetes: string;
  readonly etcd: string;
  readonly moto: string;
  readonly helm: string;
  readonly prometheusOperator: string;
}

export function parseVersionsEnv(text: string): PeerVersions {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(\S+)\s*$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) values.set(match[1], match[2]);
  }
  const get = (key: string): string => {
    const value = values.get(key);
    if (value === undefined) throw new Error(`test/peers/versions.env has no ${key}=`);
    return value;
  };
  return {
    cniPlugins: get('CNI_PLUGINS_VERSION'),
    cnitool: get('CNITOOL_VERSION'),
    kubernetes: get('K8S_VERSION'),
    etcd: get('ETCD_VERSION'),
    moto: get('MOTO_VERSION'),
    helm: get('HELM_VERSION'),
    prometheusOperator: get('PROMETHEUS_OPERATOR_VERSION'),
  };
}

export const peerVersions: PeerVersions = parseVersionsEnv(
  readFileSync(join(peersSourceDir, 'versions.env'), 'utf8'),
);

/** Same default as install.sh. */
export const peersDir: string =
  process.env['ENI_IPAM_PEERS_DIR'] ?? join(homedir(), '.cache', 'eni-ipam-peers');

export const peerPaths = {
  /** Debian's containernetworking-plugins: CNI up to 1.0.0. */
  debianCniDir: '/usr/lib/cni',
  /** Upstream ptp, bridge and host-local built by `go install`: CNI 1.1.0. */
  upstreamCniDir: join(peersDir, 'bin', `cni-plugins-${peerVersions.cniPlugins}`),
  cnitool: join(peersDir, 'bin', `cnitool-${peerVersions.cnitool}`, 'cnitool'),
  kubeApiServer: join(
    peersDir,
    'bin',
    `kube-${peerVersions.kubernetes}-etcd-${peerVersions.etcd}`,
    'kube-apiserver',
  ),
  etcd: join(peersDir, 'bin', `kube-${peerVersions.kubernetes}-etcd-${peerVersions.etcd}`, 'etcd'),
  motoServer: join(peersDir, `moto-${peerVersions.moto}`, 'bin', 'moto_server'),
  kubelet: join(peersDir, 'bin', `kubelet-${peerVersions.kubernetes}`, 'kubelet'),
  /** OCI archives built by test/peers/node/build-images.sh: pause.tar and workload.tar. */
  nodeImagesDir: join(peersDir, 'node-images'),
  helm: join(peersDir, 'bin', `helm-${peerVersions.helm}`, 'helm'),
  /** The PodMonitor and PrometheusRule CRDs, from the Prometheus Operator's module. */
  prometheusOperatorCrdDir: join(
    peersDir,
    'bin',
    `prometheus-operator-crds-${peerVersions.prometheusOperator}`,
  ),
} as const;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Returns `path` if it is an executable file, or throws PeerMissingError naming the peer. */
export function requireExecutable(peer: PeerName, path: string): string {
  if (!isExecutable(path)) throw new PeerMissingError(peer, `${path} is missing or not executable`);
  return path;
}

/** Finds `command` on PATH (e.g. Debian's redis-server), or throws PeerMissingError. */
export function requireOnPath(peer: PeerName, command: string): string {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir !== '' && isExecutable(join(dir, command))) return join(dir, command);
  }
  // Debian puts daemons in /usr/sbin, which a non-login PATH may lack.
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin']) {
    if (isExecutable(join(dir, command))) return join(dir, command);
  }
  throw new PeerMissingError(peer, `\`${command}\` is not on PATH`);
}
