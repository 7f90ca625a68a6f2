/**
 * Holds the process open while simulated-time runs are in progress.
 *
 * Why: `createWorld` (sim/runner/sim-world.ts) waits for the SDK's first request with
 * `systemClock.sleep(1)`, and systemClock's timers are unref'd. Once the SDK's first-call set-up
 * is cached (the second and later worlds of one process), that request only waits on the world's
 * ManualClock, nothing keeps the event loop alive, and node exits in the middle of the await with
 * no error. A message port with a listener is a ref'd handle that schedules nothing.
 */
import { MessageChannel } from 'node:worker_threads';

export function holdProcessOpen(): () => void {
  const channel = new MessageChannel();
  channel.port1.on('message', () => undefined);
  return () => {
    channel.port1.close();
    channel.port2.close();
  };
}
