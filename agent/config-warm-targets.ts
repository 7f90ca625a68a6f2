/**
 * The warm-target variables are parsed by ipam/warm-targets.ts, the same parser `eni-ipam plan`
 * uses, so that both read a manifest the same way. That parser stops at the first bad variable;
 * start-up must name every bad one, so each variable is first tried on its own.
 */
import { ConfigError } from '../ipam/errors.js';
import { parseWarmTargets, WARM_TARGET_VARIABLES } from '../ipam/warm-targets.js';
import type { WarmTargets } from '../ipam/plan-types.js';
import type { ConfigIssue } from './config-schema.js';

export function readWarmTargets(
  env: Readonly<Record<string, string | undefined>>,
  issues: ConfigIssue[],
): WarmTargets {
  let failed = false;
  for (const name of WARM_TARGET_VARIABLES) {
    try {
      parseWarmTargets({ [name]: env[name] });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      issues.push({ variable: err.variable, value: err.value, accepted: err.expected });
      failed = true;
    }
  }
  // With a bad value the result is never returned (loadConfig throws); the defaults keep types simple.
  return parseWarmTargets(failed ? {} : env);
}
