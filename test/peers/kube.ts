/**
 * A real etcd and kube-apiserver on loopback, started the way controller-runtime's envtest does:
 * etcd on random ports with a throw-away data dir, kube-apiserver with a static token file, RBAC,
 * a generated service-account key and a self-signed serving certificate it makes itself in
 * --cert-dir. Binaries come from test/peers/install.sh kube.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnPeer, startOnFreePorts, waitUntilReady, type PeerProcess } from './process.js';
import { peerPaths, requireExecutable } from './paths.js';

/** kube-apiserver runs every post-start hook (RBAC bootstrap roles, ...) before /readyz is 200. */
const APISERVER_READY_TIMEOUT_MS = 120_000;
const ETCD_READY_TIMEOUT_MS = 30_000;

export interface KubeUser {
  /** The name RBAC sees, e.g. system:serviceaccount:kube-system:eni-ipam. */
  readonly username: string;
  readonly token: string;
  /** A kubeconfig that authenticates as this user. */
  readonly kubeconfigPath: string;
}

export interface KubeApiServer {
  /** https://BIND_ADDRESS:PORT (127.0.0.1 unless bindAddress says otherwise) */
  readonly url: string;
  /** Admin (system:masters) kubeconfig. */
  readonly kubeconfigPath: string;
  /** Admin bearer token. */
  readonly token: string;
  /** The serving certificate chain kube-apiserver generated; trust it to talk TLS to `url`. */
  readonly caCertificate: string;
  /** The test service-account user: no permissions until a test binds a role to it. */
  readonly serviceAccount: KubeUser & { readonly namespace: string; readonly name: string };
  /** The users of options.users, in the same order (no permissions until a test binds some). */
  readonly users: readonly KubeUser[];
  readonly etcdUrl: string;
  /** Current PIDs (kube-apiserver's changes on restart), for tests that kill or check them. */
  pids(): { readonly etcd: number; readonly apiServer: number };
  /** Stops kube-apiserver, then etcd, by PID and removes the temporary directory. */
  stop(): Promise<void>;
  /** Stops and starts kube-apiserver only (same port, certificate and etcd data): watches break. */
  restart(): Promise<void>;
}

export interface KubeApiServerOptions {
  /** The service account the test user impersonates (token-file user named like a real SA). */
  readonly serviceAccount?: { readonly namespace: string; readonly name: string };
  /** Extra kube-apiserver flags, e.g. --feature-gates=... */
  readonly extraApiServerArgs?: readonly string[];
  /**
   * The address kube-apiserver listens on and advertises; default 127.0.0.1. A node of the emulated
   * VPC reaches it at the VPC address of the control plane's link (EmulatedVpc.connectControlPlane).
   */
  readonly bindAddress?: string;
  /** More token users, e.g. a kubelet's `system:node:NAME` in group `system:nodes`. */
  readonly users?: readonly { readonly username: string; readonly groups: readonly string[] }[];
}

export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const kubeApiServerBinary = requireExecutable('kube', peerPaths.kubeApiServer);
  const etcdBinary = requireExecutable('kube', peerPaths.etcd);
  const dir = await mkdtemp(join(tmpdir(), 'eni-ipam-kube-'));
  const running: PeerProcess[] = [];
  const cleanUp = async (): Promise<void> => {
    for (const peer of running.reverse()) await peer.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const etcd = await startEtcd(etcdBinary, dir, running);
    const etcdUrl = etcd.url;

    const sa = options.serviceAccount ?? { namespace: 'kube-system', name: 'eni-ipam' };
    const saUsername = `system:serviceaccount:${sa.namespace}:${sa.name}`;
    const adminToken = randomBytes(24).toString('hex');
    const saToken = randomBytes(24).toString('hex');
    const extraUsers = (options.users ?? []).map((u) => ({ ...u, token: randomBytes(24).toString('hex') }));
    // token,user,uid,"groups": the groups a real service account token would carry.
    await writeFile(
      join(dir, 'tokens.csv'),
      [
        `${adminToken},admin,admin-uid,"system:masters"`,
        `${saToken},${saUsername},${sa.name}-uid,"system:serviceaccounts,system:serviceaccounts:${sa.namespace}"`,
        ...extraUsers.map((u, i) => `${u.token},${u.username},user-${i}-uid,"${u.groups.join(',')}"`),
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    await writeFile(join(dir, 'sa.key'), privateKey, { mode: 0o600 });
    await writeFile(join(dir, 'sa.pub'), publicKey);

    const bindAddress = options.bindAddress ?? '127.0.0.1';
    const argsFor = (port: number): string[] => [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${bindAddress}`,
      `--advertise-address=${bindAddress}`,
      `--secure-port=${port}`,
      `--cert-dir=${join(dir, 'certs')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      // As envtest: no token controller runs, so the admission plugin would reject every pod.
      '--disable-admission-plugins=ServiceAccount',
      // Fewer background goroutines on a 2-core CI machine; nothing here tests fairness.
      '--enable-priority-and-fairness=false',
      ...(options.extraApiServerArgs ?? []),
    ];
    const startApiServer = async (port: number): Promise<PeerProcess> => {
      const apiServer = spawnPeer('kube-apiserver', kubeApiServerBinary, argsFor(port));
      running.push(apiServer);
      await waitUntilReady(apiServer, () => isReady(bindAddress, port, adminToken), {
        timeoutMs: APISERVER_READY_TIMEOUT_MS,
        intervalMs: 250,
      });
      return apiServer;
    };
    // A port chosen free can be taken by another process before kube-apiserver binds it: start
    // again on a new one. A restart keeps its port, as a restarted API server does.
    let port = 0;
    let apiServer = await startOnFreePorts(1, async ([free]) => {
      port = free!;
      return startApiServer(port);
    });
    const url = `https://${bindAddress}:${port}`;

    // The serving certificate file holds the leaf and the CA that signed it.
    const caCertificate = await readFile(join(dir, 'certs', 'apiserver.crt'), 'utf8');
    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    await writeFile(kubeconfigPath, kubeconfig(url, caCertificate, 'admin', adminToken), { mode: 0o600 });
    const saKubeconfigPath = join(dir, 'service-account.kubeconfig');
    await writeFile(saKubeconfigPath, kubeconfig(url, caCertificate, saUsername, saToken), { mode: 0o600 });
    const users: KubeUser[] = [];
    for (const [i, u] of extraUsers.entries()) {
      const path = join(dir, `user-${i}.kubeconfig`);
      await writeFile(path, kubeconfig(url, caCertificate, u.username, u.token), { mode: 0o600 });
      users.push({ username: u.username, token: u.token, kubeconfigPath: path });
    }

    return {
      url,
      kubeconfigPath,
      token: adminToken,
      caCertificate,
      serviceAccount: { ...sa, username: saUsername, token: saToken, kubeconfigPath: saKubeconfigPath },
      users,
      etcdUrl,
      pids: () => ({ etcd: etcd.process.pid, apiServer: apiServer.pid }),
      stop: cleanUp,
      async restart(): Promise<void> {
        await apiServer.stop();
        running.splice(running.indexOf(apiServer), 1);
        apiServer = await startApiServer(port);
      },
    };
  } catch (err) {
    await cleanUp();
    throw err;
  }
}

async function startEtcd(
  etcdBinary: string,
  dir: string,
  running: PeerProcess[],
): Promise<{ url: string; process: PeerProcess }> {
  return startOnFreePorts(2, ([clientPort, peerPort]) =>
    startEtcdOn(etcdBinary, dir, running, clientPort!, peerPort!),
  );
}

async function startEtcdOn(
  etcdBinary: string,
  dir: string,
  running: PeerProcess[],
  clientPort: number,
  peerPort: number,
): Promise<{ url: string; process: PeerProcess }> {
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const etcd = spawnPeer('etcd', etcdBinary, [
    '--name=eni-ipam-test',
    // A data dir per attempt: one bootstrapped with another port's peer URL would not start.
    `--data-dir=${join(dir, `etcd-${String(clientPort)}`)}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=eni-ipam-test=${peerUrl}`,
    // The data dir is thrown away; fsync only slows a shared CI disk.
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ]);
  running.push(etcd);
  await waitUntilReady(
    etcd,
    async () => {
      const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2_000) });
      return response.ok && ((await response.json()) as { health?: string }).health === 'true';
    },
    { timeoutMs: ETCD_READY_TIMEOUT_MS },
  );
  return { url: clientUrl, process: etcd };
}

/** GET /readyz over TLS without verifying the certificate, which may not have been written yet. */
function isReady(host: string, port: number, token: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        path: '/readyz',
        headers: { authorization: `Bearer ${token}` },
        rejectUnauthorized: false,
        timeout: 2_000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.once('timeout', () => req.destroy(new Error('/readyz timed out')));
    req.once('error', reject);
    req.end();
  });
}

/** kubeconfig is YAML, and JSON is YAML: no serializer needed. */
function kubeconfig(url: string, caCertificate: string, user: string, token: string): string {
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'eni-ipam-test',
          cluster: {
            server: url,
            'certificate-authority-data': Buffer.from(caCertificate).toString('base64'),
          },
        },
      ],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: 'eni-ipam-test', context: { cluster: 'eni-ipam-test', user } }],
      'current-context': 'eni-ipam-test',
    },
    null,
    2,
  );
}
