/**
 * A real Kubernetes node for the e2e suites: containerd (Debian's, with runc) and the kubelet
 * (built by test/peers/install.sh node) run inside the node's network namespace and a mount
 * namespace of the node's own, registered against the real kube-apiserver (kube.ts). Pods' host
 * interfaces, routes and mounts live in the node, never in the machine's namespaces.
 *
 * The network namespace is given (NodeNetwork): a node of the emulated VPC (test/peers/vpc/), whose
 * primary ENI carries the node's address and through which the kubelet reaches kube-apiserver
 * (EmulatedVpc.connectControlPlane) and the agent reaches EC2 and instance metadata.
 *
 * Settings that fit a machine with cgroup v1, no systemd and no CAP_SYS_RESOURCE are explained
 * where they are written, and in docs/e2e.md.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { systemClock } from '../../time/clock.js';
import { PeerMissingError, peerPaths, requireExecutable, requireOnPath } from './paths.js';
import { spawnPeer, waitUntilReady, type PeerProcess } from './process.js';

const execFileAsync = promisify(execFile);

/** A node's working directory, /tmp/kl-node-XXXXXX, holds everything it makes on the machine. */
const NODE_DIR_PREFIX = '/tmp/kl-node-';
export const PAUSE_IMAGE = 'localhost/eni-ipam-e2e/pause:1';
export const WORKLOAD_IMAGE = 'localhost/eni-ipam-e2e/workload:1';
/** The workload image's httpd: GET /cgi-bin/name answers the pod's hostname (its name). */
export const WORKLOAD_PORT = 8080;

const CONTAINERD_READY_TIMEOUT_MS = 30_000;
/** Registration, the first runtime and network status: seconds; a loaded 2-core machine is slow. */
const NODE_READY_TIMEOUT_MS = 120_000;

/**
 * The sysctls the kubelet insists on (it writes them unless protectKernelDefaults, and refuses to
 * start with protectKernelDefaults if they differ). They are machine-wide, so the node gets files
 * with those values bind-mounted over /proc/sys inside its own mount namespace: the kubelet reads
 * what it wants and the machine keeps its own settings.
 */
const KUBELET_SYSCTLS: Readonly<Record<string, string>> = {
  'vm/overcommit_memory': '1',
  'vm/panic_on_oom': '0',
  'kernel/panic': '10',
  'kernel/panic_on_oops': '1',
  'kernel/keys/root_maxkeys': '1000000',
  'kernel/keys/root_maxbytes': '25000000',
};

/** Where a node's processes run and the address it reports as its InternalIP. */
export interface NodeNetwork {
  /** A network namespace under /var/run/netns. */
  readonly netnsName: string;
  readonly netnsPath: string;
  /** The node's address inside that namespace (kubelet --node-ip). */
  readonly nodeIp: string;
}

async function run(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || String(err)}`);
  }
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new PeerMissingError('node', 'a kubelet node needs root (namespaces, mounts, cgroups)');
  }
}

export interface KubeNodeOptions {
  readonly network: NodeNetwork;
  readonly nodeName: string;
  /** How the kubelet reaches kube-apiserver: its URL (reachable from the node), CA and a token. */
  readonly apiServer: { readonly url: string; readonly caCertificate: string; readonly token: string };
  /** The CNI network configuration list containerd's CRI uses for every pod. */
  readonly conflist: Readonly<Record<string, unknown>>;
  /** The CNI plugin directory (reference plugins and eni-ipam). */
  readonly cniBinDir: string;
  /** Extra node labels (kubelet --node-labels), e.g. the zone the agent reads. */
  readonly labels?: Readonly<Record<string, string>>;
  /** kubelet's maxPods; default 110. */
  readonly maxPods?: number;
}

export interface KubeNode {
  readonly nodeName: string;
  readonly network: NodeNetwork;
  /** The node's working directory (configs, containerd and kubelet state, logs). */
  readonly dir: string;
  readonly containerdSocket: string;
  /** Output of containerd (all runs so far) and the kubelet, for failure messages. */
  output(): { containerd: string; kubelet: string };
  /** `ctr -n k8s.io ARGS` against this node's containerd, in its mount namespace. */
  ctr(args: readonly string[]): Promise<string>;
  /** The PID of a running container's task (to enter a pod's network namespace). */
  taskPid(containerId: string): Promise<number>;
  /** Kills containerd (SIGKILL, as a crash) and starts it again; shims and pods keep running. */
  restartContainerd(): Promise<void>;
  /** Stops the kubelet and containerd, kills every container of the node, removes what it made. */
  stop(): Promise<void>;
}

function containerdConfig(dir: string, cniBinDir: string, cniConfDir: string): string {
  return `version = 2
root = "${join(dir, 'containerd', 'root')}"
state = "${join(dir, 'containerd', 'state')}"
[grpc]
  address = "${join(dir, 'containerd.sock')}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  disable_apparmor = true
  # The machine may lack CAP_SYS_RESOURCE: a sandbox asks for oom_score_adj -998, which runc cannot
  # set without it ("can't get final child's PID from pipe"). Clamp to containerd's own instead.
  restrict_oom_score_adj = true
  # Pod network namespaces under the node's state directory, not the machine's /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${cniBinDir}"
    conf_dir = "${cniConfDir}"
    max_conf_num = 1
`;
}

function kubeletConfig(dir: string, maxPods: number): string {
  // JSON is YAML: no serializer needed.
  return JSON.stringify(
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      // Kubernetes 1.35+ refuses cgroup v1 unless told otherwise; machines here may have it.
      failCgroupV1: false,
      // No systemd as PID 1.
      cgroupDriver: 'cgroupfs',
      // No QoS or node-allocatable cgroup tree: the node shares the machine's cgroups with others.
      cgroupsPerQOS: false,
      enforceNodeAllocatable: [],
      failSwapOn: false,
      // See KUBELET_SYSCTLS: read, never written.
      protectKernelDefaults: true,
      containerRuntimeEndpoint: `unix://${join(dir, 'containerd.sock')}`,
      podLogsDir: join(dir, 'pod-logs'),
      authentication: { anonymous: { enabled: false }, webhook: { enabled: false } },
      authorization: { mode: 'AlwaysAllow' },
      // The images cannot be pulled again: never collect them, never evict for a busy shared disk.
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      evictionHard: {
        'memory.available': '1Mi',
        'nodefs.available': '1%',
        'imagefs.available': '1%',
        'nodefs.inodesFree': '1%',
      },
      maxPods,
      // Status and the pod's IP published promptly.
      nodeStatusUpdateFrequency: '5s',
      healthzBindAddress: '127.0.0.1',
      readOnlyPort: 0,
      localStorageCapacityIsolation: false,
      // No cluster DNS here; pods get no search path from the machine.
      resolvConf: '',
      serializeImagePulls: false,
    },
    null,
    2,
  );
}

function kubeconfig(url: string, caCertificate: string, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'e2e',
        cluster: { server: url, 'certificate-authority-data': Buffer.from(caCertificate).toString('base64') },
      },
    ],
    users: [{ name: 'kubelet', user: { token } }],
    contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'kubelet' } }],
    'current-context': 'e2e',
  });
}

/** GET a path of kube-apiserver as the kubelet's user; the parsed JSON body. */
function apiGet(
  apiServer: KubeNodeOptions['apiServer'],
  path: string,
): Promise<{ status: number; body: unknown }> {
  const url = new URL(path, apiServer.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        ca: apiServer.caCertificate,
        headers: { authorization: `Bearer ${apiServer.token}` },
        timeout: 5_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(text) as unknown;
          } catch {
            body = text;
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.once('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.once('error', reject);
    req.end();
  });
}

interface NodeCondition {
  type: string;
  status: string;
  message?: string;
}

async function nodeReady(apiServer: KubeNodeOptions['apiServer'], nodeName: string): Promise<boolean> {
  const { status, body } = await apiGet(apiServer, `/api/v1/nodes/${nodeName}`);
  if (status === 404) throw new Error(`node ${nodeName} is not registered yet`);
  if (status !== 200) throw new Error(`GET node ${nodeName} answered ${status}`);
  const conditions = (body as { status?: { conditions?: NodeCondition[] } }).status?.conditions ?? [];
  const ready = conditions.find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return true;
  throw new Error(`node ${nodeName} not Ready: ${ready?.message ?? 'no Ready condition yet'}`);
}

/** PIDs of the containerd shims serving this node's socket (they outlive containerd by design). */
function shimPids(socket: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string[];
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!(cmdline[0] ?? '').includes('containerd-shim')) continue;
    const address = cmdline.indexOf('-address');
    if (address >= 0 && cmdline[address + 1] === socket) pids.push(Number(entry));
  }
  return pids;
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Starts containerd and the kubelet for one node and waits until the node is Ready. */
export async function startKubeNode(options: KubeNodeOptions): Promise<KubeNode> {
  requireRoot();
  const kubelet = requireExecutable('node', peerPaths.kubelet);
  const containerd = requireOnPath('node', 'containerd');
  const ctrBinary = requireOnPath('node', 'ctr');
  requireOnPath('node', 'runc');
  const nsenter = requireOnPath('node', 'nsenter');
  const unshare = requireOnPath('node', 'unshare');
  const mount = requireOnPath('node', 'mount');
  const umount = requireOnPath('node', 'umount');
  const pauseArchive = requireExecutableFile(join(peerPaths.nodeImagesDir, 'pause.tar'));
  const workloadArchive = requireExecutableFile(join(peerPaths.nodeImagesDir, 'workload.tar'));

  const dir = await mkdtemp(NODE_DIR_PREFIX);
  const mntns = join(dir, 'mntns');
  const socket = join(dir, 'containerd.sock');
  const cniConfDir = join(dir, 'cni-conf');
  let containerdProcess: PeerProcess | undefined;
  let kubeletProcess: PeerProcess | undefined;
  let containerdOutput = '';
  let mounted = false;

  const inNode = (withNet: boolean): string[] => [
    `--mount=${mntns}`,
    ...(withNet ? [`--net=${options.network.netnsPath}`] : []),
    '--',
  ];
  const ctr = (args: readonly string[]): Promise<string> =>
    run(nsenter, [...inNode(false), ctrBinary, '--address', socket, '-n', 'k8s.io', ...args]);

  const startContainerd = async (): Promise<void> => {
    if (containerdProcess) containerdOutput += containerdProcess.output();
    const child = spawnPeer('containerd', nsenter, [
      ...inNode(true),
      containerd,
      '--config',
      join(dir, 'containerd.toml'),
    ]);
    containerdProcess = child;
    await waitUntilReady(
      child,
      async () => {
        await run(ctrBinary, ['--address', socket, 'version']);
        return true;
      },
      { timeoutMs: CONTAINERD_READY_TIMEOUT_MS, intervalMs: 200 },
    );
  };

  const stop = async (): Promise<void> => {
    await kubeletProcess?.stop();
    if (containerdProcess && !containerdProcess.hasExited()) {
      // Every container of the node goes with it: the shims would otherwise outlive the test.
      const tasks = await ctr(['tasks', 'ls', '-q']).catch(() => '');
      for (const id of tasks.split('\n').filter((line) => line.trim() !== '')) {
        await ctr(['tasks', 'kill', '-s', 'SIGKILL', id]).catch(() => undefined);
      }
    }
    await containerdProcess?.stop();
    for (const pid of shimPids(socket)) killPid(pid);
    // Wait for the shims to go, so their cgroups can be removed.
    const deadline = systemClock.now() + 10_000;
    while (shimPids(socket).length > 0 && systemClock.now() < deadline) await systemClock.sleep(100);
    removeContainerCgroups(dir);
    if (mounted) {
      // The mount namespace dies with its last process and this bind mount: the overlays and pod
      // network namespaces mounted inside it go with it.
      await run(umount, ['-l', mntns]).catch(() => undefined);
      await run(umount, ['-l', dir]).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };

  try {
    // A persistent mount namespace for the node: containerd, its shims, the CNI plugins and the
    // kubelet all see the same mounts, containerd restarts into it, and none leak to the machine.
    // unshare --mount=FILE needs FILE on a private mount.
    await run(mount, ['--bind', dir, dir]);
    mounted = true;
    await run(mount, ['--make-private', dir]);
    await writeFile(mntns, '');
    await run(unshare, [`--mount=${mntns}`, '--propagation', 'private', 'true']);
    const sysctlDir = join(dir, 'sysctl');
    await mkdir(sysctlDir);
    for (const [key, value] of Object.entries(KUBELET_SYSCTLS)) {
      const file = join(sysctlDir, key.replaceAll('/', '.'));
      await writeFile(file, `${value}\n`);
      await run(nsenter, [...inNode(false), mount, '--bind', file, `/proc/sys/${key}`]);
    }

    await mkdir(cniConfDir);
    await writeFile(join(cniConfDir, '10-pods.conflist'), JSON.stringify(options.conflist, null, 2));
    await mkdir(join(dir, 'pod-logs'));
    await writeFile(join(dir, 'containerd.toml'), containerdConfig(dir, options.cniBinDir, cniConfDir));
    await startContainerd();
    // ctr names an OCI archive's image by --base-name and the tag umoci wrote ("1").
    await ctr(['images', 'import', '--base-name', PAUSE_IMAGE.replace(/:1$/, ''), pauseArchive]);
    await ctr(['images', 'import', '--base-name', WORKLOAD_IMAGE.replace(/:1$/, ''), workloadArchive]);

    await writeFile(join(dir, 'kubelet.yaml'), kubeletConfig(dir, options.maxPods ?? 110));
    await writeFile(
      join(dir, 'kubeconfig'),
      kubeconfig(options.apiServer.url, options.apiServer.caCertificate, options.apiServer.token),
      { mode: 0o600 },
    );
    const labels = Object.entries(options.labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    kubeletProcess = spawnPeer('kubelet', nsenter, [
      ...inNode(true),
      kubelet,
      `--config=${join(dir, 'kubelet.yaml')}`,
      `--kubeconfig=${join(dir, 'kubeconfig')}`,
      `--root-dir=${join(dir, 'kubelet')}`,
      `--cert-dir=${join(dir, 'kubelet', 'pki')}`,
      `--hostname-override=${options.nodeName}`,
      `--node-ip=${options.network.nodeIp}`,
      ...(labels === '' ? [] : [`--node-labels=${labels}`]),
      '--v=1',
    ]);
    const kubeletChild = kubeletProcess;
    await waitUntilReady(kubeletChild, () => nodeReady(options.apiServer, options.nodeName), {
      timeoutMs: NODE_READY_TIMEOUT_MS,
      intervalMs: 500,
    });
  } catch (err) {
    const detail = `\ncontainerd output (tail):\n${(containerdOutput + (containerdProcess?.output() ?? '')).slice(-4000)}`;
    await stop();
    if (err instanceof Error) err.message += detail;
    throw err;
  }

  return {
    nodeName: options.nodeName,
    network: options.network,
    dir,
    containerdSocket: socket,
    output: () => ({
      containerd: containerdOutput + (containerdProcess?.output() ?? ''),
      kubelet: kubeletProcess?.output() ?? '',
    }),
    ctr,
    async taskPid(containerId: string): Promise<number> {
      const line = (await ctr(['tasks', 'ls']))
        .split('\n')
        .find((l) => l.startsWith(`${containerId} `) || l.startsWith(`${containerId}\t`));
      const pid = Number(line?.trim().split(/\s+/)[1]);
      if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no running task for container ${containerId}`);
      return pid;
    },
    async restartContainerd(): Promise<void> {
      const child = containerdProcess;
      if (child && !child.hasExited()) {
        killPid(child.pid);
        await child.exited;
      }
      await startContainerd();
    },
    stop,
  };
}

function requireExecutableFile(path: string): string {
  if (!existsSync(path)) throw new PeerMissingError('node', `${path} is missing`);
  return path;
}

/**
 * runc makes /sys/fs/cgroup/[<controller>/]k8s.io/<container id> per container (cgroupfs driver,
 * no QoS tree); a shim killed with its containers can leave them behind, empty. Only the ids of
 * this node's containers (its containerd state) are touched.
 */
function removeContainerCgroups(dir: string): void {
  const taskDir = join(dir, 'containerd', 'state', 'io.containerd.runtime.v2.task', 'k8s.io');
  let ids: string[];
  try {
    ids = readdirSync(taskDir);
  } catch {
    return;
  }
  let controllers: string[];
  try {
    controllers = readdirSync('/sys/fs/cgroup');
  } catch {
    return;
  }
  // cgroup v1: one hierarchy per controller; cgroup v2: the unified one at the top.
  for (const hierarchy of [...controllers.map((c) => join('/sys/fs/cgroup', c)), '/sys/fs/cgroup']) {
    for (const id of ids) {
      const path = join(hierarchy, 'k8s.io', id);
      if (existsSync(path)) {
        try {
          // rmdir, not rm -r: a cgroup directory is removed whole or not at all.
          rmdirSync(path);
        } catch {
          // Still in use or already gone: left as it is.
        }
      }
    }
  }
}
