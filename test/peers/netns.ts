/**
 * Network namespaces made by the test, CNI plugins run into them the way a runtime does (env +
 * stdin config, result or error JSON on stdout), and a look at the addresses inside. Everything
 * here needs root (CAP_SYS_ADMIN for `ip netns`, CAP_NET_ADMIN for the plugins).
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { PeerMissingError, requireOnPath } from './paths.js';

const execFileAsync = promisify(execFile);

/** Every namespace these helpers make starts with this, so leftovers of a crashed run are findable. */
export const TEST_NETNS_PREFIX = 'eni-ipam-test-';
/** A plugin that has not answered in this long is hung; the e2e cases treat that as a failure. */
const PLUGIN_TIMEOUT_MS = 30_000;

export interface NetNs {
  readonly name: string;
  /** /var/run/netns/NAME: what CNI_NETNS expects. */
  readonly path: string;
  delete(): Promise<void>;
}

function requireNetnsPrivileges(): string {
  const ip = requireOnPath('cni', 'ip');
  if (process.getuid?.() !== 0) {
    throw new PeerMissingError('cni', 'network namespaces need root and this test runs as a normal user');
  }
  return ip;
}

export async function createNetns(): Promise<NetNs> {
  const ip = requireNetnsPrivileges();
  const name = `${TEST_NETNS_PREFIX}${randomBytes(4).toString('hex')}`;
  await execFileAsync(ip, ['netns', 'add', name]);
  // A fresh namespace has lo down; plugins and tests expect it up, as a runtime leaves it.
  await execFileAsync(ip, ['-n', name, 'link', 'set', 'lo', 'up']);
  return { name, path: `/var/run/netns/${name}`, delete: () => deleteNetns(name) };
}

/** Deletes a namespace; deleting one that is already gone is not an error. */
export async function deleteNetns(name: string): Promise<void> {
  const ip = requireNetnsPrivileges();
  try {
    await execFileAsync(ip, ['netns', 'delete', name]);
  } catch (err) {
    if (!(await listNetns()).includes(name)) return;
    throw err;
  }
}

export async function listNetns(): Promise<string[]> {
  const ip = requireNetnsPrivileges();
  const { stdout } = await execFileAsync(ip, ['-j', 'netns', 'list']);
  if (stdout.trim() === '') return [];
  return (JSON.parse(stdout) as { name: string }[]).map((ns) => ns.name);
}

/** Deletes namespaces left behind by a test run that was killed before its clean-up. */
export async function deleteStaleTestNetns(): Promise<string[]> {
  const stale = (await listNetns()).filter((name) => name.startsWith(TEST_NETNS_PREFIX));
  for (const name of stale) await deleteNetns(name);
  return stale;
}

export interface InterfaceAddress {
  readonly family: 'inet' | 'inet6';
  readonly address: string;
  readonly prefixLength: number;
}

interface IpAddrJson {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
}

/** Global-scope addresses of `ifname` inside the namespace (`ip -n NS -j addr show dev IF`). */
export async function interfaceAddresses(netnsName: string, ifname: string): Promise<InterfaceAddress[]> {
  const ip = requireNetnsPrivileges();
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(ip, ['-n', netnsName, '-j', 'addr', 'show', 'dev', ifname]));
  } catch (err) {
    // "Device does not exist" is an answer (no addresses), not a failure of the helper.
    if (/does not exist/.test((err as { stderr?: string }).stderr ?? '')) return [];
    throw err;
  }
  const links = stdout.trim() === '' ? [] : (JSON.parse(stdout) as IpAddrJson[]);
  return links.flatMap((link) =>
    (link.addr_info ?? [])
      .filter((info) => (info.family === 'inet' || info.family === 'inet6') && info.scope !== 'link')
      .map((info) => ({
        family: info.family as 'inet' | 'inet6',
        address: info.local,
        prefixLength: info.prefixlen,
      })),
  );
}

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'STATUS' | 'GC';

export interface CniInvocation {
  /** The plugin executable, e.g. /usr/lib/cni/ptp. */
  readonly plugin: string;
  readonly command: CniCommand;
  /** The network configuration sent on stdin (a single plugin's config, with cniVersion and name). */
  readonly config: Readonly<Record<string, unknown>>;
  /** Directories searched for delegated plugins such as the IPAM plugin (CNI_PATH). */
  readonly cniPath: readonly string[];
  readonly containerId?: string;
  /** Path of the namespace, usually NetNs.path (CNI_NETNS). */
  readonly netns?: string;
  readonly ifname?: string;
  /** CNI_ARGS, e.g. K8S_POD_NAMESPACE=default;K8S_POD_NAME=web */
  readonly args?: string;
  /** Extra environment for the plugin (e.g. the agent's socket path for the IPAM plugin). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface CniOutcome {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON, or undefined when it is empty or not JSON. */
  readonly json: unknown;
}

/** Runs a CNI plugin as a container runtime does: CNI_* in the environment, config on stdin. */
export function runCniPlugin(invocation: CniInvocation): Promise<CniOutcome> {
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: invocation.command,
    CNI_PATH: invocation.cniPath.join(':'),
    ...(invocation.containerId !== undefined && { CNI_CONTAINERID: invocation.containerId }),
    ...(invocation.netns !== undefined && { CNI_NETNS: invocation.netns }),
    ...(invocation.ifname !== undefined && { CNI_IFNAME: invocation.ifname }),
    ...(invocation.args !== undefined && { CNI_ARGS: invocation.args }),
    ...invocation.env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(invocation.plugin, [], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: PLUGIN_TIMEOUT_MS,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (exitCode, signal) => {
      if (signal !== null) {
        reject(
          new Error(
            `${invocation.plugin} ${invocation.command} was killed by ${signal} (hung?); stderr: ${stderr}`,
          ),
        );
        return;
      }
      resolve({ exitCode, stdout, stderr, json: parseJson(stdout) });
    });
    child.stdin.end(JSON.stringify(invocation.config));
  });
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
