/**
 * moto's standalone server on a random loopback port: an independent implementation of the EC2
 * wire protocol (from a project-local virtualenv, see install.sh). moto is shallow: it does not
 * enforce ENI or address limits, may hand out duplicate random addresses, ignores
 * DeleteOnTermination and does not model prefix delegation, so tests against it assert only the
 * shapes and flows it does model.
 */
import { spawnPeer, startOnFreePorts, waitUntilReady } from './process.js';
import { peerPaths, requireExecutable } from './paths.js';

/** moto imports every service's models on start; on a busy 2-core machine that takes seconds. */
const READY_TIMEOUT_MS = 60_000;

export interface MotoPeer {
  /** http://127.0.0.1:PORT, the endpoint for an SDK client. */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** moto accepts any credentials; these are what the smoke tests pass. */
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Drops every resource moto holds (POST /moto-api/reset), back to its default VPC. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export function startMoto(region = 'us-east-1'): Promise<MotoPeer> {
  return startOnFreePorts(1, ([port]) => startMotoOn(port!, region));
}

async function startMotoOn(port: number, region: string): Promise<MotoPeer> {
  const motoServer = requireExecutable('moto', peerPaths.motoServer);
  const endpoint = `http://127.0.0.1:${port}`;
  const peer = spawnPeer('moto_server', motoServer, ['-H', '127.0.0.1', '-p', String(port)], {
    env: {
      ...process.env,
      // Keep a developer's real AWS settings out of moto's process.
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_DEFAULT_REGION: region,
    },
  });
  try {
    await waitUntilReady(
      peer,
      async () => (await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(2_000) })).ok,
      { timeoutMs: READY_TIMEOUT_MS, intervalMs: 250 },
    );
  } catch (err) {
    await peer.stop();
    throw err;
  }
  return {
    endpoint,
    port,
    pid: peer.pid,
    region,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    async reset(): Promise<void> {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!response.ok) throw new Error(`moto reset answered ${response.status}`);
    },
    stop: () => peer.stop(),
  };
}
