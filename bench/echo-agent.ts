/**
 * The measurement floor of the agent-side ADD bench: the agent's CNI endpoint (agent/cni-server.ts,
 * run with the shipped node flags) in front of a backend that answers every call at once, with no
 * datastore, checkpoint or logging behind it. What a burst costs against it is what 200 connections
 * at once cost between two node processes on this machine; the agent's own work is the rest.
 *
 * Usage: node dist/bench/echo-agent.js SOCKET   (prints "ready" once it listens)
 */
import { CniServer } from '../agent/cni-server.js';
import type { CniBackend, IpamResult } from '../agent/cni-backend.js';

const RESULT: IpamResult = {
  ips: [{ address: '10.0.0.5/20', gateway: '10.0.0.1' }],
  routes: [{ dst: '0.0.0.0/0' }],
};

const immediate: CniBackend = {
  add: () => Promise.resolve({ kind: 'ok', result: RESULT }),
  del: () => Promise.resolve({ kind: 'ok' }),
  check: () => Promise.resolve({ kind: 'ok' }),
  gc: () => Promise.resolve({ kind: 'ok', released: 0 }),
  status: () => Promise.resolve({ kind: 'ok' }),
};

const socketPath = process.argv[2];
if (socketPath === undefined) {
  process.stderr.write('usage: echo-agent SOCKET\n');
  process.exit(2);
}
const server = new CniServer({ socketPath, backend: immediate });
await server.start();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
