/**
 * What a failed start-up says: never a bare "fetch failed" or "Invalid URL", but the endpoint or
 * file, the cause, and the settings to check. Node's fetch hides the reason in `cause` (a refused
 * connection, a DNS failure, a timeout); a URL error carries the text it could not parse.
 */
import type { AgentConfig } from './config.js';

interface WithCause {
  message?: unknown;
  code?: unknown;
  cause?: unknown;
  input?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
  path?: unknown;
  syscall?: unknown;
}

/** The innermost useful reason of an error chain: code and address when the system gave them. */
function reasonOf(err: unknown): string {
  const chain: WithCause[] = [];
  let current: unknown = err;
  while (current !== null && typeof current === 'object' && chain.length < 5) {
    chain.push(current);
    current = (current as WithCause).cause;
  }
  const deepest = [...chain]
    .reverse()
    .find((e) => typeof e.code === 'string' || typeof e.message === 'string');
  if (deepest === undefined) return String(err);
  if (deepest.code === 'ERR_INVALID_URL') return `invalid URL ${JSON.stringify(deepest.input ?? '')}`;
  const where =
    typeof deepest.address === 'string'
      ? ` ${deepest.address}${typeof deepest.port === 'number' ? `:${deepest.port}` : ''}`
      : typeof deepest.hostname === 'string'
        ? ` ${deepest.hostname}`
        : typeof deepest.path === 'string'
          ? ` ${deepest.path}`
          : '';
  const message = typeof deepest.message === 'string' ? deepest.message : '';
  if (typeof deepest.code === 'string' && !message.includes(deepest.code))
    return `${deepest.code}${where}: ${message}`;
  return message === '' ? String(err) : message;
}

const UNHELPFUL = /^(fetch failed|network error|socket hang up)$/i;

/** One line: what failed, why, and what to check. */
export function startupFailure(err: unknown, config: AgentConfig): string {
  const top = err instanceof Error ? err.message : String(err);
  const reason = reasonOf(err);
  const what = UNHELPFUL.test(top)
    ? `a request failed: ${reason}`
    : top === reason || top === 'Invalid URL'
      ? reason
      : `${top} (${reason})`;
  const checks = [
    `the instance metadata endpoint ${config.aws.imdsEndpoint} (ENI_IPAM_IMDS_ENDPOINT)`,
    `the EC2 endpoint ${config.aws.ec2Endpoint ?? `of Region ${config.aws.region ?? '(from the instance metadata)'}`} (AWS_EC2_ENDPOINT, AWS_REGION) and the node's IAM role`,
    `the Kubernetes API (${config.kubeconfig === undefined ? 'in-cluster service account' : `KUBECONFIG ${config.kubeconfig}`})`,
  ];
  return `${what}; check ${checks.join(', ')}`;
}
