/**
 * One request to the agent over its unix socket, with a deadline. The outcome says how far the
 * exchange got, because DEL treats "never reached the agent" and "reached it but heard nothing
 * back" alike (record the release in the spool) while ADD turns both into "try again later".
 */
import { createConnection } from 'node:net';
import type { Clock } from '../time/clock.js';
import {
  encodeRequest,
  MAX_MESSAGE_BYTES,
  parseResponse,
  type AgentRequest,
  type AgentResponse,
} from './protocol.js';

export type AgentCall =
  | { kind: 'answered'; response: AgentResponse }
  /** No connection: no socket file, nobody listening, or no permission. */
  | { kind: 'unreachable'; reason: string }
  /** Connected, but the agent closed or the deadline passed before a whole answer arrived. */
  | { kind: 'no-answer'; reason: string }
  /** A whole answer that is not our protocol (or another version of it). */
  | { kind: 'bad-answer'; reason: string };

export interface AgentCallOptions {
  socketPath: string;
  request: AgentRequest;
  timeoutMs: number;
  clock: Clock;
}

export function callAgent({ socketPath, request, timeoutMs, clock }: AgentCallOptions): Promise<AgentCall> {
  return new Promise<AgentCall>((resolve) => {
    let connected = false;
    let settled = false;
    const chunks: Buffer[] = [];
    let received = 0;
    const socket = createConnection({ path: socketPath });

    const finish = (outcome: AgentCall): void => {
      if (settled) return;
      settled = true;
      timer.cancel();
      socket.destroy();
      resolve(outcome);
    };

    const timer = clock.setTimer(timeoutMs, () => {
      const reason = `no answer from the agent at ${socketPath} within ${timeoutMs} ms`;
      finish(connected ? { kind: 'no-answer', reason } : { kind: 'unreachable', reason });
    });

    socket.on('connect', () => {
      connected = true;
      socket.write(encodeRequest(request));
    });

    socket.on('data', (chunk: Buffer) => {
      const nl = chunk.indexOf(0x0a);
      const part = nl === -1 ? chunk : chunk.subarray(0, nl);
      received += part.length;
      if (received > MAX_MESSAGE_BYTES) {
        finish({ kind: 'bad-answer', reason: `answer longer than ${MAX_MESSAGE_BYTES} bytes` });
        return;
      }
      chunks.push(part);
      if (nl === -1) return;
      const parsed = parseResponse(Buffer.concat(chunks).toString('utf8'));
      finish(
        parsed.ok
          ? { kind: 'answered', response: parsed.value }
          : { kind: 'bad-answer', reason: `${parsed.violation.kind}: ${parsed.violation.message}` },
      );
    });

    socket.on('error', (err: NodeJS.ErrnoException) => {
      const reason = `agent socket ${socketPath}: ${err.code ?? err.message}`;
      finish(connected ? { kind: 'no-answer', reason } : { kind: 'unreachable', reason });
    });

    socket.on('close', () => {
      finish({ kind: 'no-answer', reason: `the agent closed the connection without an answer` });
    });
  });
}
