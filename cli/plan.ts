import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ADDRESSES_PER_PREFIX } from '../ipam/address.js';
import type { PlanDecision, PlanInput } from '../ipam/plan-types.js';
import { plan } from '../ipam/planner.js';
import { parseBool } from '../agent/config-schema.js';
import { parseWarmTargets, WARM_TARGET_VARIABLES } from '../agent/config-warm-targets.js';
import { InvalidConfigError } from '../agent/errors.js';
import { PlanInputError } from './errors.js';

/**
 * `eni-ipam plan`: the warm-pool planner on a node described as JSON, so an operator can see what a
 * setting will do before rolling it out. `env` goes through the agent's own parser.
 */

const USAGE = `Usage: eni-ipam plan < node.json

Reads a node's state as JSON on stdin and prints the warm-pool planner's decision as JSON.

Input:
  {"limits": {"maxEnis": 3, "ipv4PerEni": 10, "maxPods": 29, "prefixes": false},
   "env": {"WARM_IP_TARGET": "5", "MINIMUM_IP_TARGET": "10"},
   "enis": [{"id": "eni-a", "primary": true, "ips": 9, "assigned": 7, "cooldown": 0, "prefixes": 0}],
   "pending": 0}

  limits    maxEnis, ipv4PerEni (primary included), maxPods, prefixes; optional primaryEniExcluded
  env       ${WARM_TARGET_VARIABLES.join(', ')}
  enis      id, primary, ips, prefixes, assigned, cooldown; optional busy, full
  pending   CNI ADDs waiting for an address; optional inFlight, enisInFlight, eniLimitReached

Output:
  {"poolTooLow": bool, "poolTooHigh": bool, "short": n, "over": n, "actions": [...]}

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
  },
  { error: expected('an object') },
);

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

/** The planner's input from the JSON document; a PlanInputError naming every bad field otherwise. */
export function parsePlanInput(text: string): PlanInput {
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

function toPlanInput(doc: PlanDocument): PlanInput {
  // envProblems found none, so the settings parse.
  const targets = parseWarmTargets(doc.env);
  const { primaryEniExcluded, ...limits } = doc.limits;
  return {
    limits: primaryEniExcluded === undefined ? limits : { ...limits, primaryEniExcluded },
    targets,
    enis: doc.enis.map(({ busy, full, ...eni }) => ({
      ...eni,
      ...(busy === undefined ? {} : { busy }),
      ...(full === undefined ? {} : { full }),
    })),
    pending: doc.pending,
    ...(doc.inFlight === undefined ? {} : { inFlight: doc.inFlight }),
    ...(doc.enisInFlight === undefined ? {} : { enisInFlight: doc.enisInFlight }),
    ...(doc.eniLimitReached === undefined ? {} : { eniLimitReached: doc.eniLimitReached }),
  };
}

/** The decision for a JSON document, as the command prints it. */
export function planDocument(text: string): PlanDecision {
  return plan(parsePlanInput(text));
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
