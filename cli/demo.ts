import { parseArgs } from 'node:util';
import { DEFAULT_CHURN, startDemo, type DemoStatus } from '../sim/runner/demo.js';
import { ConfigError } from '../ipam/errors.js';
import { systemClock } from '../time/clock.js';
import { UsageError } from './errors.js';

/**
 * `eni-ipam demo` (what `npm start` runs): the agent on one simulated node under pod churn, in real
 * time, with a live status line. No AWS account and no Kubernetes needed.
 */

const USAGE = `Usage: eni-ipam demo [options]

Runs the eni-ipam agent on one simulated node (simulated EC2 and IMDS over HTTP on loopback) under
a steady pod churn with a burst every minute, and prints a live status line. Ctrl-C stops it.

  --duration S              stop after S seconds (default: run until Ctrl-C)
  --instance-type TYPE      the simulated node's instance type (default: m5.large)
  --metrics-port N          Prometheus metrics on 127.0.0.1:N/metrics (default: 61678)
  --introspection-port N    introspection on 127.0.0.1:N (default: 61679)
  --seed N                  seed of the simulated cloud and the churn (default: 1)
  --keep                    keep the work directory (agent log, checkpoint) after stopping
  -h, --help                show this help

Warm-pool variables in the environment (WARM_ENI_TARGET, WARM_IP_TARGET, MINIMUM_IP_TARGET,
WARM_PREFIX_TARGET, ENABLE_PREFIX_DELEGATION, MAX_ENI, IP_COOLDOWN_PERIOD) apply to the agent.
`;

const PASSED_THROUGH =
  /^(WARM_[A-Z_]+|MINIMUM_IP_TARGET|ENABLE_PREFIX_DELEGATION|MAX_ENI|IP_COOLDOWN_PERIOD|AWS_VPC_K8S_CNI_LOGLEVEL)$/;

function port(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || n < 1 || n > 65535)
    throw new UsageError(`--${flag}: expected a port number, got ${JSON.stringify(raw)}`);
  return n;
}

export function statusLine(s: DemoStatus): string {
  return (
    `[${s.uptimeSeconds}s] ENIs ${s.enis} | addresses free ${s.free} assigned ${s.assigned} cooling ${s.cooling}` +
    ` | pods running ${s.podsRunning} waiting ${s.podsWaiting} failed ADDs ${s.failedAdds}` +
    ` | EC2 calls ${s.ec2Calls} throttled ${s.throttled}`
  );
}

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        duration: { type: 'string' },
        'instance-type': { type: 'string', default: 'm5.large' },
        'metrics-port': { type: 'string' },
        'introspection-port': { type: 'string' },
        seed: { type: 'string', default: '1' },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`eni-ipam demo: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  let metricsPort: number;
  let introspectionPort: number;
  let durationS: number | undefined;
  try {
    metricsPort = port('metrics-port', values['metrics-port'], 61678);
    introspectionPort = port('introspection-port', values['introspection-port'], 61679);
    if (values.duration !== undefined) {
      durationS = Number(values.duration);
      if (!(durationS > 0))
        throw new UsageError(`--duration: expected seconds > 0, got ${JSON.stringify(values.duration)}`);
    }
    if (!/^-?[0-9]+$/.test(values.seed))
      throw new UsageError(`--seed: expected an integer, got ${JSON.stringify(values.seed)}`);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`eni-ipam demo: ${err.message}\n`);
    return 2;
  }
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] => e[1] !== undefined && PASSED_THROUGH.test(e[0]),
    ),
  );
  let demo;
  try {
    demo = await startDemo({
      instanceType: values['instance-type'],
      metricsBind: `127.0.0.1:${metricsPort}`,
      introspectionBind: `127.0.0.1:${introspectionPort}`,
      seed: Number(values.seed),
      env,
      churn: DEFAULT_CHURN,
      keep: values.keep,
    });
  } catch (err) {
    // startDemo has stopped what it started and removed its work directory.
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof ConfigError) {
      process.stderr.write(`eni-ipam demo: ${message}\n`);
      return 2;
    }
    const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' || message.includes('EADDRINUSE');
    process.stderr.write(
      `eni-ipam demo: could not start: ${message}${inUse ? ' (choose another port with --metrics-port or --introspection-port)' : ''}\n`,
    );
    return 1;
  }
  const tty = process.stderr.isTTY;
  process.stderr.write(
    [
      `eni-ipam demo: one simulated ${values['instance-type']} node, simulated EC2 at ${demo.ec2Url}`,
      `  metrics:        ${demo.metricsUrl}`,
      `  introspection:  ${demo.introspectionUrl}/v1/enis  /v1/pods  /v1/subnets  /v1/state  /readyz`,
      `  agent log:      ${demo.logFile}`,
      'Ctrl-C stops.',
      '',
    ].join('\n'),
  );
  const stopping = new AbortController();
  const onSignal = (): void => {
    stopping.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const deadline = durationS === undefined ? undefined : systemClock.now() + durationS * 1000;
  try {
    while (!stopping.signal.aborted && (deadline === undefined || systemClock.now() < deadline)) {
      const line = statusLine(demo.status());
      // On a terminal the line is rewritten in place; in a log, one line per second.
      process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
      try {
        await systemClock.sleep(
          Math.min(1000, deadline === undefined ? 1000 : Math.max(0, deadline - systemClock.now())),
          stopping.signal,
        );
      } catch {
        break;
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const last = statusLine(demo.status());
  await demo.stop();
  process.stderr.write(
    `${tty ? '\r\x1b[2K' : ''}${last}\nstopped${values.keep ? `; work directory kept: ${demo.workDir}` : ''}\n`,
  );
  return 0;
}
