/**
 * Issue 7, case 3 (fuzzed input): the real eni-ipam plugin executable, with the real agent behind
 * it, fed at least 1,000 generated CNI invocations: every command (and made-up ones), environment
 * variables missing, empty or hostile, stdin that is garbage, truncated JSON or a network config
 * with fields of the wrong type. Whatever comes in, the plugin must answer the CNI way: exit 0 with
 * the result the command defines, or exit 1 with CNI error JSON on stdout; never a stack trace,
 * another exit code, or a hang (a plugin still running after 30 s is killed and the case fails).
 *
 * Cases run in batches of BATCH_SIZE processes at once (fast-check drives the batches, so a failing
 * batch still shrinks); the node is roomy and the agent answers a hopeless ADD within 1 s.
 */
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startAgentProcess,
  startSimulatedNode,
  type AgentProcess,
  type SimulatedNode,
} from './harness/agent-process.js';
import { createCniBinDir, type CniBinDir } from './harness/cni-bin.js';
import { BALANCED, compareAgentWithEc2 } from './harness/ec2-truth.js';
import { runPluginRaw, type RawOutcome } from './harness/raw-plugin.js';

const BATCH_SIZE = 10;
const BATCHES = 110;
const FUZZ_SEED = 0x7e57;

const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];
const ODD_VERSIONS = ['0.1.0', '0.2.0', '1.2.0', '', 'latest', ' 1.0.0'];
const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'];
const ODD_COMMANDS = ['add', 'UPGRADE', '', 'ADD ', 'DEL\n'];

/** Generated invocations: environment and stdin, exactly as the plugin receives them. */
interface Invocation {
  readonly env: Record<string, string>;
  readonly stdin: string;
}

interface Paths {
  readonly socket: string;
  readonly deadSocket: string;
  readonly spool: string;
  readonly netns: string;
}

/** A few container ids reused across cases, so ADDs also repeat and DEL/CHECK/GC find something. */
const CONTAINER_IDS = Array.from(
  { length: 12 },
  (_, i) => `${i.toString(16).padStart(2, '0')}${'ab'.repeat(31)}`,
);
const IFNAMES = ['eth0', 'net1'];
const containerIds = fc.constantFrom(...CONTAINER_IDS);
const ifnames = fc.constantFrom(...IFNAMES);
/** Every attachment the cases can make: a runtime's GC lists nearly all of them, as here. */
const ALL_ATTACHMENTS = CONTAINER_IDS.flatMap((containerID) =>
  IFNAMES.map((ifname) => ({ containerID, ifname })),
);
const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '../../etc/passwd', 'a;b=c', '=', ';;', 'x'.repeat(300), 'eth0\n', '€', '-1'),
);
/** Any JSON value, kept small: what a broken runtime or a hand-edited config might send. */
const anyJson = fc.jsonValue({ maxDepth: 3 });

/**
 * A well-formed call, as containerd would make it, for any command and supported version. The
 * mutations below then break zero to three things in it, so that most cases get past the plugin's
 * first checks and reach the agent, and the rest probe each check on its own.
 */
function wellFormed(
  paths: Paths,
): fc.Arbitrary<{ env: Record<string, string>; config: Record<string, unknown> }> {
  const attachments = fc.subarray(ALL_ATTACHMENTS, { minLength: ALL_ATTACHMENTS.length - 4 });
  return fc
    .record({
      command: fc.constantFrom(...COMMANDS),
      version: fc.constantFrom(...SUPPORTED_VERSIONS),
      containerId: containerIds,
      ifname: ifnames,
      // No prevResult, one with no address (CHECK then only asks whether the attachment is known), or
      // one naming a random address (which the agent does not hold).
      prevAddress: fc.option(fc.oneof(fc.constant(''), fc.ipV4()), { nil: undefined }),
      attachments,
      annotations: fc.option(
        fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
        {
          nil: undefined,
        },
      ),
    })
    .map(({ command, version, containerId, ifname, prevAddress, attachments: valid, annotations }) => ({
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: containerId,
        CNI_IFNAME: ifname,
        CNI_NETNS: paths.netns,
        CNI_PATH: '/opt/cni/bin',
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=fuzz;K8S_POD_NAME=pod-${containerId.slice(0, 2)};K8S_POD_UID=00000000-0000-4000-8000-0000000000${containerId.slice(0, 2)}`,
      },
      config: {
        cniVersion: command === 'GC' || command === 'STATUS' ? '1.1.0' : version,
        name: 'fuzz-net',
        type: 'ptp',
        // The spool is always a file of the test's own: a DEL the agent cannot take is written
        // there, and a generated path could point anywhere on a machine where the plugin runs as root.
        ipam: { type: 'eni-ipam', socket: paths.socket, spoolPath: paths.spool },
        ...(prevAddress === undefined
          ? {}
          : {
              prevResult: {
                cniVersion: version,
                ips: prevAddress === '' ? [] : [{ address: `${prevAddress}/32` }],
              },
            }),
        ...(command === 'GC' ? { 'cni.dev/valid-attachments': valid } : {}),
        ...(annotations === undefined
          ? {}
          : { runtimeConfig: { 'io.kubernetes.cri.pod-annotations': annotations } }),
      },
    }));
}

type Call = { env: Record<string, string>; config: Record<string, unknown>; stdin?: string };
type Mutation = (call: Call) => Call;

function mutations(paths: Paths): fc.Arbitrary<Mutation> {
  const envKeys = fc.constantFrom(
    'CNI_COMMAND',
    'CNI_CONTAINERID',
    'CNI_IFNAME',
    'CNI_NETNS',
    'CNI_PATH',
    'CNI_ARGS',
  );
  const configKeys = fc.constantFrom(
    'cniVersion',
    'name',
    'ipam',
    'prevResult',
    'cni.dev/valid-attachments',
    'cni.dev/attachments',
    'runtimeConfig',
  );
  const ipamKeys = fc.constantFrom('socket', 'addTimeoutSeconds', 'type');
  const withIpam = (call: Call, key: string, value: unknown): Call => {
    const ipam =
      typeof call.config['ipam'] === 'object' && call.config['ipam'] !== null ? call.config['ipam'] : {};
    return { ...call, config: { ...call.config, ipam: { ...ipam, [key]: value } } };
  };
  return fc.oneof(
    envKeys.map((key): Mutation => (call) => ({
      ...call,
      env: Object.fromEntries(Object.entries(call.env).filter(([k]) => k !== key)),
    })),
    fc
      .tuple(envKeys, hostileText)
      .map(([key, value]): Mutation => (call) => ({ ...call, env: { ...call.env, [key]: value } })),
    fc
      .constantFrom(...ODD_COMMANDS)
      .map((c): Mutation => (call) => ({ ...call, env: { ...call.env, CNI_COMMAND: c } })),
    fc
      .array(
        fc.tuple(hostileText, hostileText).map(([k, v]) => `${k}=${v}`),
        { maxLength: 4 },
      )
      .map((pairs): Mutation => (call) => ({ ...call, env: { ...call.env, CNI_ARGS: pairs.join(';') } })),
    configKeys.map((key): Mutation => (call) => ({
      ...call,
      config: Object.fromEntries(Object.entries(call.config).filter(([k]) => k !== key)),
    })),
    fc
      .tuple(configKeys, anyJson)
      .map(([key, value]): Mutation => (call) => ({ ...call, config: { ...call.config, [key]: value } })),
    fc
      .constantFrom(...ODD_VERSIONS)
      .map((v): Mutation => (call) => ({ ...call, config: { ...call.config, cniVersion: v } })),
    fc.tuple(ipamKeys, anyJson).map(
      ([key, value]): Mutation =>
        (call) =>
          withIpam(call, key, value),
    ),
    fc.integer({ min: -5, max: 700 }).map(
      (t): Mutation =>
        (call) =>
          withIpam(call, 'addTimeoutSeconds', t),
    ),
    fc.constant<Mutation>((call) => withIpam(call, 'socket', paths.deadSocket)),
    fc
      .array(fc.oneof(fc.record({ containerID: containerIds, ifname: ifnames }), anyJson), { maxLength: 4 })
      .map((list): Mutation => (call) => ({
        ...call,
        config: { ...call.config, 'cni.dev/attachments': list },
      })),
    // stdin itself: truncated (a runtime killed while writing), or not JSON at all.
    fc.nat().map((cut): Mutation => (call) => {
      const text = JSON.stringify(call.config);
      return { ...call, stdin: text.slice(0, cut % (text.length + 1)) };
    }),
    fc
      .oneof(
        fc.string({ maxLength: 200 }),
        fc.string({ unit: 'binary', maxLength: 200 }),
        anyJson.map((v) => JSON.stringify(v)),
      )
      .map((text): Mutation => (call) => ({ ...call, stdin: text })),
  );
}

function invocationArbitrary(paths: Paths): fc.Arbitrary<Invocation> {
  return fc
    .tuple(
      wellFormed(paths),
      fc.oneof(
        { weight: 2, arbitrary: fc.constant([]) },
        { weight: 3, arbitrary: fc.array(mutations(paths), { minLength: 1, maxLength: 3 }) },
      ),
    )
    .map(([base, changes]) => {
      const call = changes.reduce<Call>((c, change) => change(c), base);
      // exec(2) cannot pass a NUL inside a variable; no runtime can send one.
      const env = Object.fromEntries(
        Object.entries(call.env).map(([k, v]) => [k, v.replaceAll('\u0000', '')]),
      );
      return { env, stdin: call.stdin ?? JSON.stringify(call.config) };
    });
}

const STACK_TRACE = /^\s+at .+:\d+:\d+\)?$/m;

/** The CNI contract for one invocation's outcome; returns what is wrong, or undefined. */
function violation(invocation: Invocation, outcome: RawOutcome): string | undefined {
  if (outcome.signal !== null) return `killed by ${outcome.signal} (a hang, or a crash)`;
  if (STACK_TRACE.test(outcome.stdout) || STACK_TRACE.test(outcome.stderr)) return 'printed a stack trace';
  const json = outcome.json as Record<string, unknown> | undefined;
  if (outcome.exitCode === 1) {
    if (typeof json !== 'object' || json === null) return 'failed without CNI error JSON on stdout';
    if (!Number.isInteger(json['code']) || (json['code'] as number) < 1)
      return 'error JSON without a positive integer code';
    if (typeof json['msg'] !== 'string') return 'error JSON without msg';
    if (typeof json['cniVersion'] !== 'string') return 'error JSON without cniVersion';
    return undefined;
  }
  if (outcome.exitCode !== 0) return `exit code ${String(outcome.exitCode)}`;
  const command: string = invocation.env['CNI_COMMAND'] ?? '';
  switch (command) {
    case 'ADD': {
      const ips: unknown = json?.['ips'];
      if (!Array.isArray(ips) || ips.length === 0) return 'ADD succeeded without ips';
      if ('interfaces' in (json ?? {})) return 'an IPAM result must not list interfaces';
      const bad: unknown = ips.find(
        (ip: unknown) =>
          typeof (ip as { address?: unknown }).address !== 'string' ||
          !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test((ip as { address: string }).address),
      );
      return bad === undefined ? undefined : `ADD result with a malformed address: ${JSON.stringify(bad)}`;
    }
    case 'VERSION':
      return Array.isArray(json?.['supportedVersions']) ? undefined : 'VERSION without supportedVersions';
    case 'DEL':
    case 'CHECK':
    case 'GC':
    case 'STATUS':
      return outcome.stdout.trim() === ''
        ? undefined
        : `success with output: ${outcome.stdout.slice(0, 200)}`;
    default:
      return `an unknown command succeeded: ${outcome.stdout.slice(0, 200)}`;
  }
}

describe('fuzzed CNI input against the plugin and the agent', () => {
  let node: SimulatedNode;
  let agent: AgentProcess;
  let bin: CniBinDir;
  let scratch: string;

  beforeAll(async () => {
    bin = await createCniBinDir('debian');
    // m5.4xlarge: 8 ENIs x 29 addresses, far more than the 12 container ids the cases reuse.
    node = await startSimulatedNode({ instanceType: 'm5.4xlarge', sim: { seed: 41 } });
    agent = await startAgentProcess({
      node,
      env: { ENI_IPAM_ADD_WAIT_SECONDS: '1', IP_COOLDOWN_PERIOD: '1' },
    });
    scratch = await mkdtemp(join(tmpdir(), 'eni-ipam-e2e-fuzz-'));
  });
  afterAll(async () => {
    await agent?.stop();
    await node?.close();
    await agent?.removeState();
    await bin?.remove();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it(`answers ${BATCH_SIZE * BATCHES} generated invocations the CNI way`, { timeout: 300_000 }, async () => {
    const paths = {
      socket: agent.socketPath,
      deadSocket: join(scratch, 'nobody-listens.sock'),
      spool: join(scratch, 'spool.jsonl'),
      netns: '/var/run/netns/eni-ipam-test-fuzz',
    };
    const invocation = invocationArbitrary(paths);
    let ran = 0;
    /** What the cases reached: "ADD ok", "code 7", ... so a generator that only makes garbage fails. */
    const reached = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.array(invocation, { minLength: BATCH_SIZE, maxLength: BATCH_SIZE }),
        async (batch) => {
          const outcomes = await Promise.all(
            batch.map((inv) => runPluginRaw(bin.eniIpam, inv.env, inv.stdin)),
          );
          ran += batch.length;
          for (const [i, outcome] of outcomes.entries()) {
            const inv = batch[i];
            if (!inv) continue;
            const kind =
              outcome.exitCode === 0
                ? `${inv.env['CNI_COMMAND'] ?? ''} ok`
                : `code ${String((outcome.json as { code?: unknown } | undefined)?.code)}`;
            reached.set(kind, (reached.get(kind) ?? 0) + 1);
            const problem = violation(inv, outcome);
            if (problem !== undefined) {
              throw new Error(
                `${problem}\nenv: ${JSON.stringify(inv.env)}\nstdin: ${inv.stdin.slice(0, 500)}\nexit: ${String(outcome.exitCode)}\nstdout: ${outcome.stdout.slice(0, 500)}\nstderr: ${outcome.stderr.slice(0, 1000)}`,
              );
            }
          }
        },
      ),
      { numRuns: BATCHES, seed: FUZZ_SEED, endOnFailure: true },
    );
    expect(ran).toBeGreaterThanOrEqual(1_000);
    // The cases got past the plugin's checks to the agent and back, not only to a parse error.
    const tally = JSON.stringify(Object.fromEntries([...reached].sort()));
    for (const kind of [
      'ADD ok',
      'DEL ok',
      'CHECK ok',
      'GC ok',
      'STATUS ok',
      'VERSION ok',
      'code 4',
      'code 6',
      'code 7',
    ]) {
      expect(reached.get(kind) ?? 0, `no case reached "${kind}": ${tally}`).toBeGreaterThan(0);
    }
    // The agent lived through it, and its books still match EC2's.
    expect(agent.isRunning()).toBe(true);
    expect((await agent.readiness()).status).toBe(200);
    expect(await compareAgentWithEc2(node, agent)).toEqual(BALANCED);
  });
});
