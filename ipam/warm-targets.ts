import { ConfigError } from './errors.js';
import type { WarmTargets } from './plan-types.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** The variables parseWarmTargets reads, in the AWS VPC CNI's spelling. */
export const WARM_TARGET_VARIABLES = [
  'WARM_ENI_TARGET',
  'WARM_IP_TARGET',
  'MINIMUM_IP_TARGET',
  'WARM_PREFIX_TARGET',
  'MAX_ENI',
  'ENABLE_PREFIX_DELEGATION',
] as const;

/** The AWS VPC CNI's default: keep one ENI's worth of free addresses. */
export const DEFAULT_WARM_ENI_TARGET = 1;

/** An empty string counts as unset: Helm and kustomize render absent values that way. */
function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** A whole number >= `min`, or undefined when unset. Anything else is a ConfigError. */
export function readWholeNumber(env: Env, name: string, min = 0): number | undefined {
  const value = raw(env, name);
  if (value === undefined) return undefined;
  const parsed = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed < min) {
    throw new ConfigError(name, value, `a whole number >= ${min}`);
  }
  return parsed;
}

/** Go's strconv.ParseBool spellings: the AWS VPC CNI reads its booleans so, and its manifests use them. */
const TRUE_SPELLINGS: ReadonlySet<string> = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_SPELLINGS: ReadonlySet<string> = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** A boolean as the AWS VPC CNI spells it, or undefined when `value` is not one. */
export function parseBoolean(value: string): boolean | undefined {
  if (TRUE_SPELLINGS.has(value)) return true;
  if (FALSE_SPELLINGS.has(value)) return false;
  return undefined;
}

/** A boolean variable, or undefined when unset; anything else is a ConfigError. */
export function readBoolean(env: Env, name: string): boolean | undefined {
  const value = raw(env, name);
  if (value === undefined) return undefined;
  const parsed = parseBoolean(value);
  if (parsed === undefined)
    throw new ConfigError(name, value, '"true" or "false" (also 1/0, t/f, True/False)');
  return parsed;
}

/**
 * The warm-pool settings from the environment, parsed the same way by the agent and by
 * `eni-ipam plan`. What each one means is in docs/warm-targets.md.
 */
export function parseWarmTargets(env: Env): WarmTargets {
  return {
    warmEniTarget: readWholeNumber(env, 'WARM_ENI_TARGET') ?? DEFAULT_WARM_ENI_TARGET,
    warmIpTarget: readWholeNumber(env, 'WARM_IP_TARGET'),
    minimumIpTarget: readWholeNumber(env, 'MINIMUM_IP_TARGET'),
    warmPrefixTarget: readWholeNumber(env, 'WARM_PREFIX_TARGET'),
    // An instance always has its primary ENI: MAX_ENI=0 would mean no node at all.
    maxEni: readWholeNumber(env, 'MAX_ENI', 1),
    prefixDelegation: readBoolean(env, 'ENABLE_PREFIX_DELEGATION') ?? false,
  };
}
