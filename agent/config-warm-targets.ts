/**
 * The warm-pool variables, in the AWS VPC CNI's spelling, read through the one configuration
 * schema: by the agent at start-up (loadConfig) and by `eni-ipam plan`, so that both read a
 * manifest the same way. What each one means is in docs/warm-targets.md.
 */
import type { WarmTargets } from '../ipam/plan-types.js';
import { EnvReader, parseBool, parseCount, type Parsed } from './config-schema.js';
import { InvalidConfigError } from './errors.js';

/** The variables readWarmTargets reads. */
export const WARM_TARGET_VARIABLES = [
  'WARM_ENI_TARGET',
  'WARM_IP_TARGET',
  'MINIMUM_IP_TARGET',
  'WARM_PREFIX_TARGET',
  'MAX_ENI',
  'ENABLE_PREFIX_DELEGATION',
] as const;

const count = (raw: string): Parsed<number> => parseCount(raw, 0);
// An instance always has its primary ENI: MAX_ENI=0 would mean no node at all.
const eniCount = (raw: string): Parsed<number> => parseCount(raw, 1);

/** The warm targets; a bad value is recorded in `read.issues` and its default used. */
export function readWarmTargets(read: EnvReader): WarmTargets {
  return {
    warmEniTarget: read.value('WARM_ENI_TARGET', count),
    warmIpTarget: read.optional('WARM_IP_TARGET', count),
    minimumIpTarget: read.optional('MINIMUM_IP_TARGET', count),
    warmPrefixTarget: read.optional('WARM_PREFIX_TARGET', count),
    maxEni: read.optional('MAX_ENI', eniCount),
    prefixDelegation: read.value('ENABLE_PREFIX_DELEGATION', parseBool),
  };
}

/** The warm targets alone; throws InvalidConfigError naming every bad variable, as loadConfig does. */
export function parseWarmTargets(env: Readonly<Record<string, string | undefined>>): WarmTargets {
  const read = new EnvReader(env);
  const targets = readWarmTargets(read);
  const [first, ...rest] = read.issues;
  if (first) throw new InvalidConfigError([first, ...rest]);
  return targets;
}
