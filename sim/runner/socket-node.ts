import type { AddOutcome, AddRequest, CniFailure, DelOutcome, DelRequest } from '../../agent/cni-backend.js';
import { callAgent } from '../../cni/agent-client.js';
import { DEFAULT_ADD_TIMEOUT_MS, DEL_TIMEOUT_MS } from '../../cni/timeouts.js';
import type { Clock } from '../../time/clock.js';
import type { NodeSocket } from './container-runtime.js';

/**
 * The runtime's calls over the agent's real unix socket, with the CNI plugin's client and
 * deadlines: what the demo drives, so that the wire protocol and the server are in the loop.
 */
export class UnixSocketNode implements NodeSocket {
  constructor(
    private readonly socketPath: string,
    private readonly clock: Clock,
  ) {}

  async add(req: AddRequest): Promise<AddOutcome> {
    const call = await callAgent({
      socketPath: this.socketPath,
      request: req,
      timeoutMs: DEFAULT_ADD_TIMEOUT_MS,
      clock: this.clock,
    });
    if (call.kind !== 'answered') return failure(call.reason);
    const response = call.response;
    if (!response.ok) return { kind: 'failure', cniCode: response.error.code, message: response.error.msg };
    if (response.op !== 'add') return failure(`answer to ADD was a ${response.op}`);
    return { kind: 'ok', result: response.result };
  }

  async del(req: DelRequest): Promise<DelOutcome> {
    const call = await callAgent({
      socketPath: this.socketPath,
      request: req,
      timeoutMs: DEL_TIMEOUT_MS,
      clock: this.clock,
    });
    if (call.kind !== 'answered') return failure(call.reason);
    const response = call.response;
    if (!response.ok) return { kind: 'failure', cniCode: response.error.code, message: response.error.msg };
    return { kind: 'ok' };
  }
}

function failure(message: string): CniFailure {
  return { kind: 'failure', cniCode: 11, message };
}
