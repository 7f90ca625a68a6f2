/**
 * Upstream cnitool (libcni as a container runtime uses it): loads a network configuration list by
 * name from a directory and runs the whole chain (ADD, CHECK, DEL, STATUS, GC) against a namespace.
 * It speaks CNI 1.1.0, which Debian's plugins do not.
 */
import { execFile } from 'node:child_process';
import { peerPaths, requireExecutable } from './paths.js';

const CNITOOL_TIMEOUT_MS = 30_000;

export type CnitoolCommand = 'add' | 'check' | 'del' | 'gc' | 'status';

export interface CnitoolInvocation {
  readonly command: CnitoolCommand;
  /** The `name` of a .conflist (or .conf) file in `confDir` (NETCONFPATH). */
  readonly networkName: string;
  readonly confDir: string;
  /** Path of the namespace; cnitool derives the container id from it. */
  readonly netns: string;
  readonly cniPath: readonly string[];
  readonly ifname?: string;
  readonly args?: string;
  /** Runtime capabilities (CAP_ARGS), e.g. { portMappings: [...] }. */
  readonly capArgs?: Readonly<Record<string, unknown>>;
  /**
   * The network namespace the runtime itself runs in (`ip netns exec`): the host side of the pod's
   * veth, its routes and portmap's rules land there. Default: the test process's own.
   */
  readonly hostNetns?: string;
}

export interface CnitoolOutcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCnitool(invocation: CnitoolInvocation): Promise<CnitoolOutcome> {
  const cnitool = requireExecutable('cni', peerPaths.cnitool);
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    NETCONFPATH: invocation.confDir,
    CNI_PATH: invocation.cniPath.join(':'),
    ...(invocation.ifname !== undefined && { CNI_IFNAME: invocation.ifname }),
    ...(invocation.args !== undefined && { CNI_ARGS: invocation.args }),
    ...(invocation.capArgs !== undefined && { CAP_ARGS: JSON.stringify(invocation.capArgs) }),
  };
  const args = [invocation.command, invocation.networkName, invocation.netns];
  const [command, argv] =
    invocation.hostNetns === undefined
      ? [cnitool, args]
      : ['ip', ['netns', 'exec', invocation.hostNetns, cnitool, ...args]];
  return new Promise((resolve, reject) => {
    execFile(command, argv, { env, timeout: CNITOOL_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') {
        reject(new Error(`cnitool ${invocation.command} did not run: ${err.message}; stderr: ${stderr}`));
        return;
      }
      resolve({ exitCode: err === null ? 0 : (err.code as number), stdout, stderr });
    });
  });
}
