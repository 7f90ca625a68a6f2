/**
 * The scenario file of `eni-ipam simulate` (issue 4; every field in docs/scenarios.md). Parsed once
 * with zod into a typed object. Every object is strict: a misspelt field ("lifetimeSecond") would
 * otherwise be silently ignored and the run would measure something else than its author meant.
 */
import { z } from 'zod';
import { loadConfig } from '../../agent/config.js';
import { parseCidr } from '../../ipam/address.js';
import { AddressFormatError, ConfigError } from '../../ipam/errors.js';
import { lookupInstanceType } from '../../ipam/instance-types.js';

const nonNegative = z.number().nonnegative();
const seconds = z.number().nonnegative();

const subnetSchema = z.strictObject({
  id: z.string().min(1),
  az: z.string().min(1),
  cidr: z.string().min(1),
  tags: z.record(z.string(), z.string()).default({}),
  usedAddresses: z.number().int().nonnegative().default(0),
});

const ec2Schema = z.strictObject({
  vpcCidr: z.string().min(1).default('10.0.0.0/16'),
  subnets: z.array(subnetSchema).min(1),
  latencyMs: z.record(z.string(), nonNegative).default({ default: 100 }),
  visibilityDelayMs: nonNegative.default(0),
  throttling: z.enum(['aws', 'none']).default('aws'),
  faults: z
    .strictObject({
      serverErrorRate: z.number().min(0).max(1).default(0),
      timeoutRate: z.number().min(0).max(1).default(0),
    })
    .default({ serverErrorRate: 0, timeoutRate: 0 }),
});

const nodeSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a lowercase DNS name'),
  count: z.number().int().positive().default(1),
  instanceType: z.string().min(1),
  subnet: z.string().min(1),
  /** The agent's environment (WARM_ENI_TARGET, ...); MY_NODE_NAME is set by the runner. */
  env: z.record(z.string(), z.string()).default({}),
});

const podSchema = z.strictObject({
  node: z.string().min(1),
  startSecond: seconds,
  count: z.number().int().nonnegative(),
  overSeconds: seconds.default(0),
  lifetimeSeconds: seconds.nullable().default(null),
  annotations: z.record(z.string(), z.string()).default({}),
  namespace: z.string().min(1).default('default'),
});

const eventBase = { atSecond: seconds, node: z.string().min(1) };

const eventSchema = z.discriminatedUnion('action', [
  z.strictObject({ ...eventBase, action: z.literal('restartAgent') }),
  z.strictObject({ ...eventBase, action: z.literal('killAgent'), downSeconds: seconds.optional() }),
  z.strictObject({
    ...eventBase,
    action: z.literal('deletePodsWhileAgentDown'),
    count: z.number().int().positive(),
    downSeconds: seconds,
  }),
  z.strictObject({
    atSecond: seconds,
    node: z.string().min(1).optional(),
    action: z.literal('exhaustSubnet'),
    subnet: z.string().min(1),
  }),
]);

export const scenarioSchema = z.strictObject({
  seed: z.number().int(),
  durationSeconds: z.number().positive(),
  /**
   * Model the cluster-wide EC2 budget (EC2_RATE_LIMIT_REDIS_URL): all agents share one client-side
   * limiter per API at the cluster share instead of each spending its own node share.
   */
  sharedRateLimit: z.boolean().default(false),
  ec2: ec2Schema,
  nodes: z.array(nodeSchema).min(1),
  pods: z.array(podSchema).default([]),
  events: z.array(eventSchema).default([]),
});

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioNode = Scenario['nodes'][number];
export type ScenarioPods = Scenario['pods'][number];
export type ScenarioEvent = Scenario['events'][number];

/** The scenario is invalid: the message names every bad field by its path (`nodes[0].env`). */
export class ScenarioError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid scenario:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ScenarioError';
  }
}

/** Parses and cross-checks a scenario (names that must refer to something do). */
export function parseScenario(input: unknown): Scenario {
  const parsed = scenarioSchema.safeParse(input);
  if (!parsed.success) throw new ScenarioError(parsed.error.issues.map(describeIssue));
  const scenario = parsed.data;
  const problems = crossCheck(scenario);
  if (problems.length > 0) throw new ScenarioError(problems);
  return scenario;
}

export function pathText(path: readonly PropertyKey[]): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text === '' ? String(part) : `.${String(part)}`;
  }
  return text === '' ? '(the scenario)' : text;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${pathText([...issue.path, key])}: unknown field`).join('; ');
  }
  return `${pathText(issue.path)}: ${issue.message}`;
}

/** Expanded node names: a node with count n is `name-0` .. `name-(n-1)`. */
export function nodeNames(node: ScenarioNode): string[] {
  return Array.from({ length: node.count }, (_, i) => `${node.name}-${i}`);
}

/** An event's `node`: one node by its name, else every node whose name starts with it (a group's copies). */
export function nodesMatching(names: readonly string[], selector: string): string[] {
  if (names.includes(selector)) return [selector];
  return names.filter((name) => name.startsWith(selector));
}

function crossCheck(scenario: Scenario): string[] {
  const problems: string[] = [];
  const cidr = (where: string, text: string): void => {
    try {
      parseCidr(text);
    } catch (err) {
      if (!(err instanceof AddressFormatError)) throw err;
      problems.push(`${where}: ${err.message}`);
    }
  };
  cidr('ec2.vpcCidr', scenario.ec2.vpcCidr);
  scenario.ec2.subnets.forEach((subnet, i) => {
    cidr(`ec2.subnets[${i}].cidr`, subnet.cidr);
  });
  const subnets = new Set(scenario.ec2.subnets.map((s) => s.id));
  const groups = new Set<string>();
  scenario.nodes.forEach((node, i) => {
    if (groups.has(node.name)) problems.push(`nodes[${i}].name: ${node.name} is used twice`);
    groups.add(node.name);
    if (!subnets.has(node.subnet))
      problems.push(`nodes[${i}].subnet: no subnet ${node.subnet} in ec2.subnets`);
    if (lookupInstanceType(node.instanceType) === undefined)
      problems.push(
        `nodes[${i}].instanceType: unknown instance type ${node.instanceType} (not in the bundled table)`,
      );
    if ('MY_NODE_NAME' in node.env) problems.push(`nodes[${i}].env.MY_NODE_NAME: set by the runner`);
    else {
      try {
        loadConfig({ ...node.env, MY_NODE_NAME: node.name });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems.push(`nodes[${i}].env: ${err.message.replace(/\n\s*/g, ' ')}`);
      }
    }
  });
  const allNames = scenario.nodes.flatMap(nodeNames);
  scenario.pods.forEach((pods, i) => {
    if (!groups.has(pods.node) && !allNames.includes(pods.node)) {
      problems.push(`pods[${i}].node: ${pods.node} is neither a node group nor a node`);
    }
  });
  scenario.events.forEach((event, i) => {
    if (event.action === 'exhaustSubnet') {
      if (!subnets.has(event.subnet))
        problems.push(`events[${i}].subnet: no subnet ${event.subnet} in ec2.subnets`);
      return;
    }
    if (nodesMatching(allNames, event.node).length === 0) {
      problems.push(`events[${i}].node: no node is named ${event.node} or starts with it`);
    }
  });
  return problems;
}
