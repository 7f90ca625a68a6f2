/**
 * agent/'s members of the error family (ipam/errors.ts): start-up configuration, the checkpoint and
 * the cluster's ENIConfig objects.
 */
import { ConfigError, EniIpamError } from '../ipam/errors.js';
import { describeIssue, type ConfigIssue } from './config-schema.js';

/**
 * Start-up configuration is invalid. A ConfigError (as the warm-target parser throws, so one
 * `instanceof` catches both) whose variable/value/expected are the first problem's, and whose
 * `issues` and message list every bad variable.
 */
export class InvalidConfigError extends ConfigError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly [ConfigIssue, ...ConfigIssue[]]) {
    const [first] = issues;
    super(first.variable, first.value ?? '', first.accepted);
    this.issues = issues;
    this.message = `invalid configuration:\n${issues.map((i) => `  - ${describeIssue(i)}`).join('\n')}`;
  }
}

/** A save after close(): the agent is stopping and nothing more may be written. */
export class CheckpointClosedError extends EniIpamError {
  override readonly name = 'CheckpointClosedError';
  readonly code = 'ERR_CHECKPOINT_CLOSED' as const;
}

/** The ENIConfig an object names is malformed; names the object and what is wrong. */
export class InvalidEniConfigError extends EniIpamError {
  override readonly name = 'InvalidEniConfigError';
  readonly code = 'ERR_INVALID_ENICONFIG' as const;

  constructor(
    readonly eniConfig: string,
    readonly problem: string,
  ) {
    super(`ENIConfig ${eniConfig} is invalid: ${problem}`);
  }
}

/**
 * The Kubernetes API server answered a request with an error status (or with something that is
 * not JSON). `status` is the HTTP status, which callers match on (404: no such object).
 */
export class KubeApiError extends EniIpamError {
  override readonly name = 'KubeApiError';
  readonly code = 'ERR_KUBE_API' as const;

  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly reason: string,
  ) {
    super(`Kubernetes API ${method} ${path}: HTTP ${status}: ${reason}`);
  }
}
