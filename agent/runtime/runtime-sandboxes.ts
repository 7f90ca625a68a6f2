/**
 * The container runtime's view of which pod holds which address: the READY pod sandboxes of the
 * CRI RuntimeService (runtime.v1, containerd's and CRI-O's) over its unix socket, each with the
 * addresses its network status reports. Ownership recovery asks it when the checkpoint lost who
 * holds an address, so that it needs no API server. This module and gRPC are imported only then:
 * an agent that never recovers ownership never loads them.
 */
import type { ServiceError } from '@grpc/grpc-js';
import { isIP } from 'node:net';
import type { SandboxAddresses } from '../../ipam/ownership-recovery.js';
import type { Clock } from '../../time/clock.js';
import {
  decodeListPodSandboxResponse,
  decodePodSandboxStatusResponse,
  encodeListReadySandboxes,
  encodePodSandboxStatusRequest,
  SANDBOX_READY,
} from './cri-codec.js';

export interface RuntimeSandboxesOptions {
  /** The CRI socket (containerd's /run/containerd/containerd.sock). */
  readonly socketPath: string;
  readonly clock: Clock;
  /** Each call's deadline. */
  readonly timeoutMs: number;
}

const SERVICE = '/runtime.v1.RuntimeService';
/** grpc status NOT_FOUND (5): the sandbox went away between the list and its status. */
const NOT_FOUND: number = 5;

/**
 * The READY sandboxes and their addresses. Throws when the runtime cannot say (no socket, no
 * permission, timeout, not a CRI runtime, a malformed answer): the caller treats the runtime as
 * unknown. A sandbox without a pod uid, or one removed meanwhile, is left out.
 */
export async function readySandboxes(options: RuntimeSandboxesOptions): Promise<SandboxAddresses[]> {
  const grpc = await import('@grpc/grpc-js');
  const client = new grpc.Client(`unix://${options.socketPath}`, grpc.credentials.createInsecure());
  const call = <T>(method: string, request: Buffer, decode: (b: Buffer) => T): Promise<T> =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        `${SERVICE}/${method}`,
        (b: Buffer) => b,
        decode,
        request,
        { deadline: options.clock.now() + options.timeoutMs },
        (err: ServiceError | null, value?: T) => {
          if (err) reject(err);
          else if (value === undefined) reject(new Error(`${method}: empty answer`));
          else resolve(value);
        },
      );
    });
  try {
    const listed = await call('ListPodSandbox', encodeListReadySandboxes(), decodeListPodSandboxResponse);
    const ready = listed.filter((s) => s.state === SANDBOX_READY && s.id !== '');
    const statuses = await Promise.all(
      ready.map((s) =>
        call('PodSandboxStatus', encodePodSandboxStatusRequest(s.id), decodePodSandboxStatusResponse).catch(
          (err: unknown) => {
            if (Number((err as Partial<ServiceError>).code) === NOT_FOUND) return undefined;
            throw err;
          },
        ),
      ),
    );
    const sandboxes: SandboxAddresses[] = [];
    for (const status of statuses) {
      const metadata = status?.metadata;
      if (!status || status.state !== SANDBOX_READY || !metadata || metadata.uid === '') continue;
      sandboxes.push({
        uid: metadata.uid,
        namespace: metadata.namespace,
        name: metadata.name,
        // The runtime's text: only what parses as an address counts.
        ips: status.ips.filter((ip) => isIP(ip) !== 0),
      });
    }
    return sandboxes;
  } finally {
    client.close();
  }
}
