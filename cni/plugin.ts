/**
 * The plugin's logic: CNI environment and stdin in, stdout text and exit code out. No process
 * globals, so tests and fuzzing run it in-process; cni/main.ts only wires it to the real process.
 *
 * Every path ends in one of: a result (ADD, VERSION), empty stdout (DEL, CHECK, GC, STATUS) or CNI
 * error JSON with exit code 1. Unexpected exceptions become code 100, never a stack trace.
 */
import type { Clock } from '../time/clock.js';
import { callAgent, type AgentCall } from './agent-client.js';
import { readCniEnv, type CniEnv, type Env } from './env.js';
import { configVersion, decodeConfig, readNetConf, type NetConf } from './netconf.js';
import type { AgentRequest, AgentResponse, AttachmentKey, DelRequest } from './protocol.js';
import { appendRelease } from './release-spool-file.js';
import { addResultJson } from './result.js';
import {
  CniCode,
  CniError,
  LATEST_CNI_VERSION,
  SUPPORTED_CNI_VERSIONS,
  versionAtLeast,
  type CniVersion,
} from './spec.js';
import { CHECK_TIMEOUT_MS, DEL_TIMEOUT_MS, GC_TIMEOUT_MS, STATUS_TIMEOUT_MS } from './timeouts.js';

export interface PluginInput {
  env: Env;
  /** Reads the whole network configuration; not called for VERSION. May throw a CniError. */
  readStdin: () => Promise<string>;
  clock: Clock;
}

export interface PluginOutput {
  stdout: string;
  exitCode: 0 | 1;
  /** Notes for the runtime's log (stderr is free-form in the spec). */
  stderr: string;
}

function attachment(env: CniEnv): AttachmentKey {
  // readCniEnv guarantees both for ADD, DEL and CHECK; this guards a future caller.
  if (env.containerId === undefined || env.ifname === undefined) {
    throw new CniError(CniCode.invalidEnvironment, 'CNI_CONTAINERID and CNI_IFNAME are required');
  }
  return { containerId: env.containerId, ifname: env.ifname };
}

type AgentOk = Extract<AgentResponse, { ok: true }>;
type NoAnswer = Exclude<AgentCall, { kind: 'answered' }>;

/**
 * The agent's success for `op`, or how the exchange fell short. An agent error becomes the CNI
 * error it names; an answer of the wrong kind is as unreadable as a malformed one.
 */
function expectOp(call: AgentCall, op: AgentOk['op']): AgentOk | NoAnswer {
  if (call.kind !== 'answered') return call;
  const res = call.response;
  if (!res.ok) throw new CniError(res.error.code, res.error.msg, res.error.details);
  if (res.op !== op) return { kind: 'bad-answer', reason: `answer for ${res.op} to a ${op} request` };
  return res;
}

function unreachableError(call: NoAnswer, code: number, what: string): CniError {
  if (call.kind === 'bad-answer') {
    return new CniError(
      CniCode.agentProtocol,
      `the eni-ipam agent gave an unreadable answer to ${what}`,
      call.reason,
    );
  }
  return new CniError(code, `the eni-ipam agent did not answer ${what}`, call.reason);
}

async function add(env: CniEnv, conf: NetConf, clock: Clock): Promise<string> {
  if (env.netns === undefined)
    throw new CniError(CniCode.invalidEnvironment, 'CNI_NETNS is required for ADD');
  const request: AgentRequest = {
    op: 'add',
    ...attachment(env),
    netns: env.netns,
    network: conf.name,
    pod: env.pod,
  };
  if (conf.annotations !== undefined) request.annotations = conf.annotations;
  const call = await callAgent({ socketPath: conf.socketPath, request, timeoutMs: conf.addTimeoutMs, clock });
  const res = expectOp(call, 'add');
  if ('kind' in res) throw unreachableError(res, CniCode.tryAgainLater, 'ADD');
  if (res.op !== 'add')
    throw new CniError(CniCode.agentProtocol, 'the eni-ipam agent answered ADD without a result');
  return JSON.stringify(addResultJson(res.result, conf.cniVersion));
}

/**
 * DEL must not lose a release: whatever keeps us from hearing the agent's "done" (no socket, a
 * timeout, an unreadable answer), the release goes to the spool, and only once it is durable do
 * we report success. Applying a release twice is harmless (the agent's DEL is idempotent).
 */
async function del(env: CniEnv, conf: NetConf, clock: Clock): Promise<{ note: string }> {
  const request: DelRequest = { op: 'del', ...attachment(env), network: conf.name, pod: env.pod };
  if (conf.prevResultAddresses !== undefined) request.addresses = conf.prevResultAddresses;
  const call = await callAgent({ socketPath: conf.socketPath, request, timeoutMs: DEL_TIMEOUT_MS, clock });
  const res = expectOp(call, 'del');
  if (!('kind' in res)) return { note: '' };
  try {
    appendRelease(conf.spoolPath, { ...request, spooledAt: clock.now() });
  } catch (err) {
    throw new CniError(
      CniCode.tryAgainLater,
      'the eni-ipam agent did not answer DEL and the release could not be recorded',
      `${res.reason}; spool ${conf.spoolPath}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return { note: `eni-ipam: ${res.reason}; release recorded in ${conf.spoolPath}\n` };
}

async function check(env: CniEnv, conf: NetConf, clock: Clock): Promise<void> {
  if (conf.prevResultAddresses === undefined) {
    throw new CniError(CniCode.invalidNetworkConfig, 'CHECK needs prevResult (the result of the ADD)');
  }
  const request: AgentRequest = {
    op: 'check',
    ...attachment(env),
    network: conf.name,
    pod: env.pod,
    addresses: conf.prevResultAddresses,
  };
  const call = await callAgent({ socketPath: conf.socketPath, request, timeoutMs: CHECK_TIMEOUT_MS, clock });
  const res = expectOp(call, 'check');
  if ('kind' in res) throw unreachableError(res, CniCode.tryAgainLater, 'CHECK');
}

async function gc(conf: NetConf, clock: Clock): Promise<void> {
  // Without the list every reservation would look stale: refuse rather than release them all.
  if (conf.validAttachments === undefined) {
    throw new CniError(CniCode.invalidNetworkConfig, 'GC needs cni.dev/valid-attachments');
  }
  const request: AgentRequest = { op: 'gc', network: conf.name, validAttachments: conf.validAttachments };
  const call = await callAgent({ socketPath: conf.socketPath, request, timeoutMs: GC_TIMEOUT_MS, clock });
  const res = expectOp(call, 'gc');
  if ('kind' in res) throw unreachableError(res, CniCode.tryAgainLater, 'GC');
}

async function status(conf: NetConf, clock: Clock): Promise<void> {
  const request: AgentRequest = { op: 'status', network: conf.name };
  const call = await callAgent({ socketPath: conf.socketPath, request, timeoutMs: STATUS_TIMEOUT_MS, clock });
  const res = expectOp(call, 'status');
  // No agent means no ADD can be served: that is what code 50 tells the runtime.
  if ('kind' in res) throw unreachableError(res, CniCode.notAvailable, 'STATUS');
}

function requireVersion(command: string, have: CniVersion, need: CniVersion): void {
  if (!versionAtLeast(have, need)) {
    throw new CniError(
      CniCode.incompatibleVersion,
      `cniVersion ${have} does not allow ${command}`,
      `${command} needs ${need} or later`,
    );
  }
}

function errorOutput(err: unknown, cniVersion: string, stderr: string): PluginOutput {
  const cniErr =
    err instanceof CniError
      ? err
      : new CniError(
          CniCode.internal,
          'eni-ipam plugin internal error',
          err instanceof Error ? err.message : String(err),
        );
  return { stdout: `${JSON.stringify(cniErr.body(cniVersion))}\n`, exitCode: 1, stderr };
}

export async function runPlugin({ env, readStdin, clock }: PluginInput): Promise<PluginOutput> {
  // Errors are reported in the caller's cniVersion once we know it is one we speak.
  let replyVersion: CniVersion = LATEST_CNI_VERSION;
  try {
    const cniEnv = readCniEnv(env);
    if (cniEnv.command === 'VERSION') {
      const body = { cniVersion: LATEST_CNI_VERSION, supportedVersions: [...SUPPORTED_CNI_VERSIONS] };
      return { stdout: `${JSON.stringify(body)}\n`, exitCode: 0, stderr: '' };
    }
    const raw = decodeConfig(await readStdin());
    replyVersion = configVersion(raw);
    // CHECK arrived in 0.4.0, GC and STATUS in 1.1.0: older configs must not get them.
    if (cniEnv.command === 'CHECK') requireVersion('CHECK', replyVersion, '0.4.0');
    if (cniEnv.command === 'GC' || cniEnv.command === 'STATUS')
      requireVersion(cniEnv.command, replyVersion, '1.1.0');
    const conf = readNetConf(raw, replyVersion, env);
    switch (cniEnv.command) {
      case 'ADD':
        return { stdout: `${await add(cniEnv, conf, clock)}\n`, exitCode: 0, stderr: '' };
      case 'DEL': {
        const { note } = await del(cniEnv, conf, clock);
        return { stdout: '', exitCode: 0, stderr: note };
      }
      case 'CHECK':
        await check(cniEnv, conf, clock);
        return { stdout: '', exitCode: 0, stderr: '' };
      case 'GC':
        await gc(conf, clock);
        return { stdout: '', exitCode: 0, stderr: '' };
      case 'STATUS':
        await status(conf, clock);
        return { stdout: '', exitCode: 0, stderr: '' };
    }
  } catch (err) {
    return errorOutput(err, replyVersion, '');
  }
}
