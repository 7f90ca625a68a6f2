import { ConfigError } from '../ipam/errors.js';
import { startAgent, type RunningAgent } from './assemble.js';
import { startupLogFields } from './build-info.js';
import { loadConfig, type AgentConfig } from './config.js';
import { createLogger } from './logger.js';
import { startupFailure } from './startup-failure.js';
import { ignoredVpcCniVariables } from './vpc-cni-variables.js';

/**
 * `eni-ipam agent`: the DaemonSet's process. Configuration comes from the environment, parsed once
 * here; an invalid value stops start-up with every bad variable named. SIGTERM stops accepting CNI
 * calls, lets in-flight work finish and flushes the checkpoint; addresses are never released on
 * shutdown (pods keep running while the agent restarts).
 */
export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      'usage: eni-ipam agent\n\nRuns the node agent. Configured by environment variables (see README "Configuration").\n',
    );
    return 0;
  }
  let config: AgentConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`eni-ipam agent: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel, base: { node: config.nodeName } });
  logger.info(startupLogFields(), 'eni-ipam starting');
  const ignored = ignoredVpcCniVariables(process.env);
  if (ignored.length > 0) {
    logger.warn(
      { variables: ignored },
      `AWS VPC CNI variables eni-ipam does not implement are set and have no effect: ${ignored.join(', ')} (docs/install-on-eks.md)`,
    );
  }
  let running: RunningAgent;
  // Start-up waits on timers that do not hold the process (retry back-off); without this the
  // process would end mid-start-up, silently, with exit code 13.
  const startingUp = setInterval(() => undefined, 60_000);
  try {
    running = await startAgent(config, process.env, logger);
  } catch (err) {
    logger.fatal({ err: startupFailure(err, config) }, 'eni-ipam could not start');
    exitSoon(1);
    return 1;
  } finally {
    clearInterval(startingUp);
  }
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'stopping');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await running.stop();
  logger.info('stopped');
  exitSoon(0);
  return 0;
}

/**
 * Everything is closed by now; should a library still hold a socket open (an SDK keep-alive, a
 * half-dead watch), the process must end anyway, or the DaemonSet's pod would hang in Terminating.
 */
function exitSoon(code: number): void {
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
}

/** How long a stopped agent waits for stray handles before exiting regardless. */
const EXIT_GRACE_MS = 2_000;
