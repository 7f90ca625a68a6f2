import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ADDRESSES_PER_PREFIX } from '../ipam/address.js';
import { planNode, type NodeSettings, type NodeState } from '../ipam/node-plan.js';
import { DEFAULT_PLACEMENT_KEY, placementKey, placementOf, type Placement } from '../ipam/placement.js';
import type { PlanAction, PlanDecision } from '../ipam/plan-types.js';
import { BLOCKER_KINDS, type Blocker } from '../ipam/pool-blocker.js';
import { parseBool } from '../agent/config-schema.js';
import { parseWarmTargets, WARM_TARGET_VARIABLES } from '../agent/config-warm-targets.js';
import { InvalidConfigError } from '../agent/errors.js';
import { SHRINK_AFTER_MS } from '../agent/intervals.js';
import { PlanInputError } from './errors.js';

/**
 * `eni-ipam plan`: the agent's pool decision (ipam/node-plan.ts planNode, the function the pool
 * driver calls each round) on a node described as JSON, so an operator can see what a setting will
 * do before rolling it out. `env` goes through the agent's own parser.
 */

const USAGE = `Usage: eni-ipam plan < node.json

Reads a node's state as JSON on stdin and prints the agent's pool decision as JSON.

Input:
  {"limits": {"maxEnis": 3, "ipv4PerEni": 10, "maxPods": 29, "prefixes": false},
   "env": {"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"},
   "enis": [{"id": "eni-a", "primary": true, "ips": 9, "assigned": 7, "cooldown": 0, "prefixes": 0}],
   "pending": 0}

  limits    maxEnis, ipv4PerEni (primary included), maxPods, prefixes; optional primaryEniExcluded
  env       ${WARM_TARGET_VARIABLES.join(', ')}
  enis      id, primary, ips, prefixes, assigned, cooldown; optional busy, full, subnetId, pool
  pending   CNI ADDs waiting for the default pool; optional inFlight, enisInFlight, eniLimitReached
  pinned    optional: [{"subnetId" and/or "pool", "waiting": n, optional inFlight, enisInFlight}]
  overTargetSeconds  optional: how long releases have been planned (absent: they are new)
  blocker   optional: why EC2 last refused to grow the pool, {"kind": k, "detail": "..."}
            (k: one of ${BLOCKER_KINDS.join(', ')}; "subnetId" with subnet-full)

Output:
  {"poolTooLow": bool, "poolTooHigh": bool, "short": n, "over": n, "actions": [...],
   "capacity": n, optional "heldBack": [...], "releaseInSeconds": n, "pinned": [...],
   "blocker": "...", "shortage": "..."}

  -h, --help   show this help
`;

/** zod's message for a missing field and for a wrong one, in the operator's words. */
function expected(what: string) {
  return (issue: { input?: unknown }) =>
    issue.input === undefined ? `required: ${what}` : `expected ${what}`;
}

function whole(min = 0) {
  const message = `a whole number >= ${min}`;
  return z
    .number({ error: expected(message) })
    .int({ error: `expected ${message}` })
    .min(min, { error: `expected ${message}` });
}

const flag = () => z.boolean({ error: expected('true or false') });

const limitsSchema = z.strictObject(
  {
    maxEnis: whole(1),
    ipv4PerEni: whole(1),
    maxPods: whole(0),
    prefixes: flag(),
    primaryEniExcluded: flag().optional(),
  },
  { error: expected('an object') },
);

/** An ENI's subnet when the document names none: the default pool's ENIs need not say. */
const UNNAMED_SUBNET = '(unnamed)';

const eniSchema = z.strictObject(
  {
    id: z.string({ error: expected('an ENI id') }).min(1, { error: 'expected an ENI id' }),
    primary: flag().default(false),
    ips: whole().default(0),
    prefixes: whole().default(0),
    assigned: whole().default(0),
    cooldown: whole().default(0),
    busy: flag().optional(),
    full: flag().optional(),
    subnetId: z
      .string({ error: expected('a subnet id') })
      .min(1)
      .default(UNNAMED_SUBNET),
    pool: z
      .string({ error: expected('a pool name') })
      .min(1)
      .optional(),
  },
  { error: expected('an object') },
);

const pinnedSchema = z
  .strictObject(
    {
      subnetId: z
        .string({ error: expected('a subnet id') })
        .min(1)
        .optional(),
      pool: z
        .string({ error: expected('a pool name') })
        .min(1)
        .optional(),
      waiting: whole(),
      inFlight: whole().default(0),
      enisInFlight: whole().default(0),
    },
    { error: expected('an object') },
  )
  .refine((p) => p.subnetId !== undefined || p.pool !== undefined, {
    error: 'expected a subnetId or a pool (the default pool is "pending")',
  });

const knownVariables = new Set<string>(WARM_TARGET_VARIABLES);

const inputSchema = z
  .strictObject(
    {
      limits: limitsSchema,
      env: z
        .record(z.string(), z.string({ error: expected('a string, as in a manifest') }), {
          error: expected('an object'),
        })
        .default({}),
      enis: z.array(eniSchema, { error: expected('an array') }),
      pending: whole().default(0),
      inFlight: whole().optional(),
      enisInFlight: whole().optional(),
      eniLimitReached: flag().optional(),
      pinned: z.array(pinnedSchema, { error: expected('an array') }).default([]),
      overTargetSeconds: whole().optional(),
      blocker: z
        .object(
          {
            kind: z.enum(BLOCKER_KINDS, { error: expected(`one of ${BLOCKER_KINDS.join(', ')}`) }),
            detail: z.string({ error: expected('a string') }),
            subnetId: z.string({ error: expected('a string') }).optional(),
          },
          { error: expected('an object: {"kind": ..., "detail": ...}') },
        )
        .optional(),
    },
    { error: expected('a JSON object') },
  )
  .superRefine((input, ctx) => {
    for (const name of Object.keys(input.env)) {
      if (!knownVariables.has(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['env', name],
          message: `not a warm-pool setting (${WARM_TARGET_VARIABLES.join(', ')})`,
        });
      }
    }
    const slots = input.limits.ipv4PerEni - 1;
    const seen = new Set<string>();
    let primaries = 0;
    input.enis.forEach((eni, i) => {
      if (seen.has(eni.id))
        ctx.addIssue({
          code: 'custom',
          path: ['enis', i, 'id'],
          message: `${JSON.stringify(eni.id)} appears twice`,
        });
      seen.add(eni.id);
      if (eni.primary) primaries += 1;
      if (eni.ips + eni.prefixes > slots) {
        ctx.addIssue({
          code: 'custom',
          path: ['enis', i],
          message: `ips + prefixes = ${eni.ips + eni.prefixes} exceeds the ${slots} secondary slots of an ENI (limits.ipv4PerEni - 1)`,
        });
      }
      const addresses = eni.ips + eni.prefixes * ADDRESSES_PER_PREFIX;
      if (eni.assigned + eni.cooldown > addresses) {
        ctx.addIssue({
          code: 'custom',
          path: ['enis', i],
          message: `assigned + cooldown = ${eni.assigned + eni.cooldown} exceeds the ENI's ${addresses} addresses (ips + prefixes x 16)`,
        });
      }
    });
    if (primaries > 1)
      ctx.addIssue({
        code: 'custom',
        path: ['enis'],
        message: `${primaries} ENIs say primary: true; a node has one`,
      });
  });

type PlanDocument = z.infer<typeof inputSchema>;

function fieldPath(path: readonly PropertyKey[]): string {
  const text = path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  return text.startsWith('.') ? text.slice(1) : text === '' ? '(input)' : text;
}

/** What planNode is called with for a node described as JSON. */
export interface NodePlanInput {
  readonly state: NodeState;
  readonly settings: NodeSettings;
  readonly now: number;
}

/** planNode's input from the JSON document; a PlanInputError naming every bad field otherwise. */
export function parsePlanInput(text: string): NodePlanInput {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PlanInputError([`(input): not JSON: ${err instanceof Error ? err.message : String(err)}`]);
  }
  const result = inputSchema.safeParse(json);
  const problems = result.success
    ? []
    : result.error.issues.map((issue) => {
        const where = fieldPath(issue.path);
        if (issue.code === 'unrecognized_keys') {
          return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
        }
        return `${where}: ${issue.message}`;
      });
  // The settings are checked whatever else is wrong, so that one run names every problem.
  problems.push(...envProblems(json));
  if (!result.success || problems.length > 0) throw new PlanInputError(problems);
  return toPlanInput(result.data);
}

/** Each warm-pool setting of `env` checked on its own, and prefix delegation against the limits. */
function envProblems(json: unknown): string[] {
  const doc = json !== null && typeof json === 'object' ? (json as Record<string, unknown>) : {};
  const env = doc['env'];
  if (env === null || typeof env !== 'object') return [];
  const problems: string[] = [];
  for (const [name, value] of Object.entries(env as Record<string, unknown>)) {
    if (typeof value !== 'string' || !knownVariables.has(name)) continue;
    try {
      parseWarmTargets({ [name]: value });
    } catch (err) {
      if (!(err instanceof InvalidConfigError)) throw err;
      problems.push(
        ...err.issues.map(
          (i) => `env.${i.variable}=${JSON.stringify(i.value ?? '')}: expected ${i.accepted}`,
        ),
      );
    }
  }
  const limits = doc['limits'];
  const prefixes =
    limits !== null && typeof limits === 'object'
      ? (limits as Record<string, unknown>)['prefixes']
      : undefined;
  const raw = (env as Record<string, unknown>)['ENABLE_PREFIX_DELEGATION'];
  if (typeof raw === 'string' && raw !== '' && typeof prefixes === 'boolean') {
    const delegation = parseBool(raw);
    if (delegation.ok && delegation.value !== prefixes) {
      problems.push(`env.ENABLE_PREFIX_DELEGATION="${raw}" disagrees with limits.prefixes=${prefixes}`);
    }
  }
  return problems;
}

/** The planning clock of a document: over-target time is measured back from it. */
const NOW = 0;

function toPlanInput(doc: PlanDocument): NodePlanInput {
  // envProblems found none, so the settings parse.
  const targets = parseWarmTargets(doc.env);
  const { primaryEniExcluded, ...limits } = doc.limits;
  const waiting: Placement[] = Array.from({ length: doc.pending }, () => ({}));
  const inFlight: Record<string, { units: number; enis: number }> = {};
  if (doc.inFlight !== undefined || doc.enisInFlight !== undefined)
    inFlight[DEFAULT_PLACEMENT_KEY] = { units: doc.inFlight ?? 0, enis: doc.enisInFlight ?? 0 };
  for (const pinned of doc.pinned) {
    const placement = placementOf(pinned);
    for (let i = 0; i < pinned.waiting; i++) waiting.push(placement);
    inFlight[placementKey(placement)] = { units: pinned.inFlight, enis: pinned.enisInFlight };
  }
  return {
    state: {
      enis: doc.enis.map(({ busy, full, pool, ...eni }) => ({
        ...eni,
        ...(pool === undefined ? {} : { pool }),
        ...(busy === undefined ? {} : { busy }),
        ...(full === undefined ? {} : { full }),
      })),
      waiting,
      inFlight,
      eniLimitReached: doc.eniLimitReached ?? false,
      ...(doc.blocker === undefined ? {} : { blocker: blockerOf(doc.blocker) }),
      ...(doc.overTargetSeconds === undefined ? {} : { overSince: NOW - doc.overTargetSeconds * 1000 }),
    },
    settings: {
      limits: primaryEniExcluded === undefined ? limits : { ...limits, primaryEniExcluded },
      targets,
      shrinkAfterMs: SHRINK_AFTER_MS,
    },
    now: NOW,
  };
}

/** What `eni-ipam plan` prints: the default pool's decision first, as the agent acts on it. */
export interface PlanReport extends PlanDecision {
  /** Pod addresses the node can hold. */
  capacity: number;
  /** Releases the agent holds back until the pool has been over its target long enough. */
  heldBack?: PlanAction[];
  releaseInSeconds?: number;
  /** Growth for each subnet or pool that waiting ADDs named. */
  pinned?: (Placement & { waiting: number; actions: readonly PlanAction[] })[];
  /** A pinned placement needs an ENI the node may not add. */
  blocker?: string;
  /** Why waiting ADDs are not served. */
  shortage?: string;
}

/** The document's blocker as the agent holds it: EC2's last refusal, dated now. */
function blockerOf(b: { kind: Blocker['kind']; detail: string; subnetId?: string | undefined }): Blocker {
  if (b.kind === 'subnet-full') return { kind: b.kind, detail: b.detail, subnetId: b.subnetId, at: NOW };
  return { kind: b.kind, detail: b.detail, at: NOW };
}

/** The decision for a JSON document, as the command prints it. */
export function planDocument(text: string): PlanReport {
  const { state, settings, now } = parsePlanInput(text);
  const decided = planNode(state, settings, now);
  const defaultActions = decided.actions.filter((a) => a.key === DEFAULT_PLACEMENT_KEY);
  return {
    ...decided.defaultPool,
    actions: defaultActions.map((a) => a.action),
    capacity: decided.capacity,
    ...(decided.heldBack.length === 0 ? {} : { heldBack: [...decided.heldBack] }),
    ...(decided.releaseDueAt === undefined ? {} : { releaseInSeconds: (decided.releaseDueAt - now) / 1000 }),
    ...(decided.pinned.length === 0
      ? {}
      : {
          pinned: decided.pinned.map((p) => ({ ...p.placement, waiting: p.waiting, actions: p.actions })),
        }),
    ...(decided.blocker === undefined ? {} : { blocker: decided.blocker.detail }),
    ...(decided.shortage === undefined ? {} : { shortage: decided.shortage.message }),
  };
}

export interface PlanIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The whole of standard input; undefined when it is a terminal (nothing was piped in). */
  readStdin: () => Promise<string | undefined>;
}

async function readProcessStdin(): Promise<string | undefined> {
  if (process.stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

const processIo: PlanIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: readProcessStdin,
};

/** Runs `eni-ipam plan` with the arguments after the subcommand; resolves to the exit code. */
export async function run(argv: string[], io: PlanIo = processIo): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { help: { type: 'boolean', short: 'h', default: false } },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      io.stdout(USAGE);
      return 0;
    }
  } catch (err) {
    io.stderr(`eni-ipam plan: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  const text = await io.readStdin();
  if (text === undefined) {
    io.stderr(`eni-ipam plan: pipe the node's JSON into standard input\n\n${USAGE}`);
    return 2;
  }
  try {
    io.stdout(`${JSON.stringify(planDocument(text), null, 2)}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof PlanInputError)) throw err;
    io.stderr(err.problems.map((problem) => `eni-ipam plan: ${problem}\n`).join(''));
    return 1;
  }
}
