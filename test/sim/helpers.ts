import { EC2Client } from '@aws-sdk/client-ec2';
import { systemClock } from '../../time/clock.js';
import type { ManualClock } from '../../time/manual-clock.js';
import type { SimulatedCloud } from '../../sim/cloud.js';

const CREDENTIALS = { accessKeyId: 'AKIDSIMULATED', secretAccessKey: 'simulated-secret' };

/** The real SDK client, reaching the simulated cloud in-process (no sockets, the cloud's clock). */
export function inProcessClient(cloud: SimulatedCloud): EC2Client {
  return new EC2Client({
    region: 'us-east-1',
    credentials: CREDENTIALS,
    maxAttempts: 1,
    requestHandler: cloud.requestHandler(),
  });
}

/** The real SDK client over HTTP. */
export function httpClient(endpoint: string): EC2Client {
  return new EC2Client({ region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1, endpoint });
}

/**
 * Runs simulated time until `promise` settles. The SDK does some real asynchronous work before it
 * reaches the handler (first-call config loading), so when no simulated timer is due this yields
 * to the event loop briefly instead of jumping time forward.
 */
export async function drive<T>(clock: ManualClock, promise: Promise<T>, limitMs = 600_000): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  const deadline = clock.now() + limitMs;
  const realDeadline = systemClock.now() + 10_000;
  while (!settled) {
    const next = clock.nextTimerAt();
    if (next !== undefined && next <= deadline) {
      await clock.advanceTo(next);
    } else {
      if (systemClock.now() > realDeadline) throw new Error('drive: the promise did not settle');
      await systemClock.sleep(1);
    }
  }
  return promise;
}

/** The error a rejected promise carries, for asserting codes and statuses. */
export async function failure(
  promise: Promise<unknown>,
): Promise<{ name: string; status: number | undefined; message: string; requestId: string | undefined }> {
  try {
    await promise;
  } catch (err) {
    const e = err as {
      name: string;
      message: string;
      $metadata?: { httpStatusCode?: number; requestId?: string };
    };
    return {
      name: e.name,
      status: e.$metadata?.httpStatusCode,
      message: e.message,
      requestId: e.$metadata?.requestId,
    };
  }
  throw new Error('expected the call to fail');
}

export interface InProcessWorld {
  clock: ManualClock;
  cloud: SimulatedCloud;
  ec2: EC2Client;
  /** Drives simulated time until the call settles. */
  run: <T>(promise: Promise<T>) => Promise<T>;
}
