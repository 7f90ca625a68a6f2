import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_INTROSPECTION_BIND } from '../agent/introspection/introspection-server.js';
import { parseBindAddress } from '../agent/config-schema.js';
import { formatBindAddress } from '../agent/introspection/http-listener.js';
import { systemClock, type Clock } from '../time/clock.js';
import { renderTable } from './table.js';

/**
 * `eni-ipam status`: the agent's introspection API as readable tables. It reads the same JSON an
 * operator gets with curl, so what it prints is what the agent serves.
 */

const USAGE = `Usage: eni-ipam status [--address HOST:PORT] [--json]

Prints the node agent's ENIs, pods and subnets from its introspection API.

  --address HOST:PORT  introspection address (default ${formatBindAddress(DEFAULT_INTROSPECTION_BIND)})
  --json               print the raw JSON of the endpoints instead of tables
  -h, --help           show this help
`;

/** A local agent answers in milliseconds; beyond this it is stuck, and saying so is the answer. */
const REQUEST_TIMEOUT_MS = 5_000;

const eniSchema = z.object({
  eniId: z.string(),
  deviceIndex: z.number(),
  primary: z.boolean(),
  subnetId: z.string(),
  primaryIp: z.string(),
  secondaryIps: z.array(z.string()),
  prefixes: z.array(z.string()),
  addresses: z.number(),
  assigned: z.number(),
  cooling: z.number(),
  free: z.number(),
  busy: z.boolean().optional(),
});
const podSchema = z.object({
  namespace: z.string(),
  name: z.string(),
  uid: z.string(),
  containerId: z.string(),
  ifName: z.string(),
  ip: z.string(),
  eniId: z.string(),
  owner: z.string().optional(),
});
const subnetSchema = z.object({
  subnetId: z.string(),
  availabilityZone: z.string(),
  cidr: z.string(),
  free: z.number(),
  inFlight: z.number().optional(),
  skippedUntil: z.number().optional(),
});
const stateSchema = z.object({
  limits: z.object({
    maxEnis: z.number(),
    ipv4PerEni: z.number(),
    maxPods: z.number(),
    prefixes: z.boolean(),
  }),
  pending: z.number(),
});
const readinessSchema = z.object({ ready: z.boolean(), reason: z.string() });

export interface NodeStatus {
  enis: z.infer<typeof eniSchema>[];
  pods: z.infer<typeof podSchema>[];
  subnets: z.infer<typeof subnetSchema>[];
  state: z.infer<typeof stateSchema>;
  readiness: z.infer<typeof readinessSchema>;
}

export interface StatusIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  clock: Clock;
}

const processIo: StatusIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  clock: systemClock,
};

/** Runs `eni-ipam status` with the arguments after the subcommand; resolves to the exit code. */
export async function run(argv: string[], io: StatusIo = processIo): Promise<number> {
  let options: { address: string; json: boolean; help: boolean };
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        address: { type: 'string', default: formatBindAddress(DEFAULT_INTROSPECTION_BIND) },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    options = values;
  } catch (err) {
    io.stderr(`eni-ipam status: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    io.stdout(USAGE);
    return 0;
  }
  const bind = parseBindAddress(options.address);
  if (!bind.ok) {
    const problem = bind.problem === undefined ? '' : ` (${bind.problem})`;
    io.stderr(
      `eni-ipam status: --address "${options.address}" is not host:port, :port or [ipv6]:port${problem}\n`,
    );
    return 2;
  }
  // ":61679" means every interface to the agent; the CLI reaches it on loopback.
  const base = `http://${formatBindAddress({ host: bind.value.host ?? '127.0.0.1', port: bind.value.port })}`;

  try {
    if (options.json) {
      io.stdout(`${JSON.stringify(await fetchRaw(base, io.clock), null, 2)}\n`);
    } else {
      io.stdout(renderStatus(await fetchStatus(base, io.clock)));
    }
    return 0;
  } catch (err) {
    io.stderr(`eni-ipam status: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

const ENDPOINTS = {
  enis: '/v1/enis',
  pods: '/v1/pods',
  subnets: '/v1/subnets',
  state: '/v1/state',
  readiness: '/readyz',
} as const;

async function fetchRaw(base: string, clock: Clock): Promise<Record<keyof typeof ENDPOINTS, unknown>> {
  const [enis, pods, subnets, state, readiness] = await Promise.all(
    Object.values(ENDPOINTS).map((path) => getJson(base, path, clock)),
  );
  return { enis, pods, subnets, state, readiness };
}

export async function fetchStatus(base: string, clock: Clock = systemClock): Promise<NodeStatus> {
  const raw = await fetchRaw(base, clock);
  return {
    enis: parse(z.object({ enis: z.array(eniSchema) }), raw.enis, ENDPOINTS.enis).enis,
    pods: parse(z.object({ pods: z.array(podSchema) }), raw.pods, ENDPOINTS.pods).pods,
    subnets: parse(z.object({ subnets: z.array(subnetSchema) }), raw.subnets, ENDPOINTS.subnets).subnets,
    state: parse(stateSchema, raw.state, ENDPOINTS.state),
    readiness: parse(readinessSchema, raw.readiness, ENDPOINTS.readiness),
  };
}

function parse<T>(schema: z.ZodType<T>, value: unknown, path: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unexpected shape';
  throw new Error(`unexpected answer from ${path} (${where}): is the agent the same version as this CLI?`);
}

async function getJson(base: string, path: string, clock: Clock): Promise<unknown> {
  const controller = new AbortController();
  const timer = clock.setTimer(REQUEST_TIMEOUT_MS, () => {
    controller.abort();
  });
  try {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, { signal: controller.signal });
    } catch (err) {
      throw new Error(
        `cannot reach the agent at ${base.replace('http://', '')} (${reasonOf(err)}): is it running with introspection enabled (DISABLE_INTROSPECTION, INTROSPECTION_BIND_ADDRESS)?`,
        { cause: err },
      );
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`${path} answered ${response.status} with something other than JSON`);
    }
    // /readyz answers 503 when not ready: that is data for the summary, not a failure.
    if (!response.ok && path !== ENDPOINTS.readiness) {
      const message =
        typeof body === 'object' && body !== null && 'error' in body ? String(body.error) : text.trim();
      throw new Error(`${path} answered ${response.status}: ${message}`);
    }
    return body;
  } finally {
    timer.cancel();
  }
}

function reasonOf(err: unknown): string {
  if (err instanceof Error && err.name === 'AbortError')
    return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  return err instanceof Error ? err.message : String(err);
}

/** The tables and summary line `eni-ipam status` prints. */
export function renderStatus(status: NodeStatus): string {
  const enis = [...status.enis].sort((a, b) => a.deviceIndex - b.deviceIndex);
  const enisTable = renderTable(
    [
      { header: 'ENI' },
      { header: 'DEVICE', align: 'right' },
      { header: 'SUBNET' },
      { header: 'PRIMARY IP' },
      { header: 'PREFIXES', align: 'right' },
      { header: 'ADDRESSES', align: 'right' },
      { header: 'ASSIGNED', align: 'right' },
      { header: 'COOLING', align: 'right' },
      { header: 'FREE', align: 'right' },
    ],
    enis.map((eni) => [
      `${eni.eniId}${eni.primary ? ' (primary)' : ''}${eni.busy ? ' *' : ''}`,
      String(eni.deviceIndex),
      eni.subnetId,
      eni.primaryIp,
      String(eni.prefixes.length),
      String(eni.addresses),
      String(eni.assigned),
      String(eni.cooling),
      String(eni.free),
    ]),
  );
  // Natural order: web-2 before web-10, as an operator counts them.
  const natural = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });
  const pods = [...status.pods].sort((a, b) => natural(a.namespace, b.namespace) || natural(a.name, b.name));
  const podsTable = renderTable(
    [
      { header: 'NAMESPACE' },
      { header: 'POD' },
      { header: 'IP' },
      { header: 'ENI' },
      { header: 'CONTAINER' },
      { header: 'OWNER' },
    ],
    pods.map((pod) => [
      pod.namespace,
      pod.name,
      pod.ip,
      pod.eniId,
      // The whole id: it is what `crictl inspectp` and the runtime's logs are searched by.
      `${pod.containerId}/${pod.ifName}`,
      pod.owner ?? '',
    ]),
  );
  const subnetsTable = renderTable(
    [
      { header: 'SUBNET' },
      { header: 'AZ' },
      { header: 'CIDR' },
      { header: 'FREE', align: 'right' },
      { header: 'IN FLIGHT', align: 'right' },
      { header: 'SKIPPED UNTIL' },
    ],
    status.subnets.map((subnet) => [
      subnet.subnetId,
      subnet.availabilityZone,
      subnet.cidr,
      String(subnet.free),
      String(subnet.inFlight ?? 0),
      subnet.skippedUntil === undefined ? '' : new Date(subnet.skippedUntil).toISOString(),
    ]),
  );
  return [
    summaryLine(status),
    '',
    `ENIs (${enis.length})`,
    enisTable,
    '',
    `Pods (${pods.length})`,
    pods.length > 0 ? podsTable : '(none)',
    '',
    `Subnets (${status.subnets.length})`,
    status.subnets.length > 0 ? subnetsTable : '(none)',
    '',
  ].join('\n');
}

function summaryLine(status: NodeStatus): string {
  let addresses = 0;
  let assigned = 0;
  let cooling = 0;
  let free = 0;
  for (const eni of status.enis) {
    addresses += eni.addresses;
    assigned += eni.assigned;
    cooling += eni.cooling;
    free += eni.free;
  }
  const { limits, pending } = status.state;
  const mode = limits.prefixes ? 'prefix delegation' : 'secondary IPs';
  return (
    `${status.readiness.ready ? 'Ready' : 'NOT READY'} (${status.readiness.reason}); ` +
    `${status.enis.length}/${limits.maxEnis} ENIs, ${mode}; ` +
    `${addresses} addresses: ${assigned} assigned, ${cooling} cooling, ${free} free; ` +
    `${status.pods.length}/${limits.maxPods} pods; ${pending} ADDs waiting`
  );
}
