import { parseArgs } from 'node:util';
import { lookupInstanceType, type InstanceLimits } from '../ipam/instance-types.js';
import { PrefixDelegationUnsupportedError } from '../ipam/errors.js';
import { maxPods } from '../ipam/max-pods.js';
import { UsageError } from './errors.js';

/**
 * `eni-ipam max-pods`: the kubelet's --max-pods for an instance type, computed as the EKS AMI does,
 * from the bundled instance-type table or from limits given by hand.
 */

const USAGE = `Usage: eni-ipam max-pods --instance-type TYPE [options]
       eni-ipam max-pods --enis N --ips-per-eni M [--vcpus V] [options]

Prints the max pods for the instance type: ENIs x (IPv4 per ENI - 1) + 2.

  --instance-type TYPE   an EC2 instance type, e.g. m5.large (bundled table)
  --enis N               ENIs on the default network card (limits by hand)
  --ips-per-eni M        IPv4 addresses per ENI, the primary included (limits by hand)
  --vcpus V              vCPUs (limits by hand; needed with --prefix-delegation)
  --prefix-delegation    /28 prefixes per slot; capped at 110 (< 30 vCPUs) or 250
  --custom-networking    the primary ENI carries no pod addresses
  --max-eni N            MAX_ENI: fewer ENIs than the instance allows
  --json                 print the breakdown as JSON
  -h, --help             show this help
`;

export interface MaxPodsIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: MaxPodsIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

function wholeNumber(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const parsed = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed < min) {
    throw new UsageError(`--${flag}: expected a whole number >= ${min}, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

interface Options {
  instanceType: string | undefined;
  enis: number | undefined;
  ipsPerEni: number | undefined;
  vcpus: number | undefined;
  maxEni: number | undefined;
  prefixDelegation: boolean;
  customNetworking: boolean;
  json: boolean;
  help: boolean;
}

function parseOptions(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'instance-type': { type: 'string' },
        enis: { type: 'string' },
        'ips-per-eni': { type: 'string' },
        vcpus: { type: 'string' },
        'max-eni': { type: 'string' },
        'prefix-delegation': { type: 'boolean', default: false },
        'custom-networking': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  return {
    instanceType: values['instance-type'],
    enis: wholeNumber('enis', values.enis, 1),
    ipsPerEni: wholeNumber('ips-per-eni', values['ips-per-eni'], 1),
    vcpus: wholeNumber('vcpus', values.vcpus, 1),
    maxEni: wholeNumber('max-eni', values['max-eni'], 1),
    prefixDelegation: values['prefix-delegation'],
    customNetworking: values['custom-networking'],
    json: values.json,
    help: values.help,
  };
}

/** The instance's limits from the table or from the flags; a message for the operator otherwise. */
function resolveLimits(options: Options): InstanceLimits | string {
  const byHand = options.enis !== undefined || options.ipsPerEni !== undefined || options.vcpus !== undefined;
  if (options.instanceType !== undefined) {
    if (byHand) throw new UsageError('give either --instance-type or --enis/--ips-per-eni/--vcpus, not both');
    return (
      // EC2 spells its types in lower case; M5.Large is the same type.
      lookupInstanceType(options.instanceType.trim().toLowerCase()) ??
      `unknown instance type ${JSON.stringify(options.instanceType)}: pass its limits by hand with --enis N --ips-per-eni M (and --vcpus V with --prefix-delegation)`
    );
  }
  if (options.enis === undefined || options.ipsPerEni === undefined) {
    throw new UsageError('give --instance-type, or --enis and --ips-per-eni');
  }
  if (options.prefixDelegation && options.vcpus === undefined) {
    throw new UsageError(
      '--prefix-delegation with limits by hand needs --vcpus (the 110/250 cap depends on it)',
    );
  }
  return {
    instanceType: 'custom',
    vcpus: options.vcpus ?? 0,
    maxEnis: options.enis,
    ipv4PerEni: options.ipsPerEni,
    hypervisor: 'nitro',
    bareMetal: false,
    // Limits given by hand describe an instance the operator means to use with prefixes.
    prefixDelegation: true,
  };
}

/** Runs `eni-ipam max-pods` with the arguments after the subcommand; resolves to the exit code. */
export function run(argv: string[], io: MaxPodsIo = processIo): Promise<number> {
  return Promise.resolve(maxPodsCommand(argv, io));
}

/** The command itself: it does no I/O but printing, so it need not wait for anything. */
export function maxPodsCommand(argv: string[], io: MaxPodsIo): number {
  let options: Options;
  let limits: InstanceLimits | string;
  try {
    options = parseOptions(argv);
    if (options.help) {
      io.stdout(USAGE);
      return 0;
    }
    limits = resolveLimits(options);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr(`eni-ipam max-pods: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (typeof limits === 'string') {
    io.stderr(`eni-ipam max-pods: ${limits}\n`);
    return 1;
  }
  try {
    const result = maxPods(limits, {
      prefixDelegation: options.prefixDelegation,
      customNetworking: options.customNetworking,
      ...(options.maxEni === undefined ? {} : { maxEni: options.maxEni }),
    });
    if (options.json) {
      const described =
        options.instanceType === undefined ? {} : { instanceType: limits.instanceType, vcpus: limits.vcpus };
      io.stdout(`${JSON.stringify({ ...described, ...result }, null, 2)}\n`);
    } else {
      io.stdout(`${result.maxPods}\n`);
    }
    return 0;
  } catch (err) {
    if (!(err instanceof PrefixDelegationUnsupportedError)) throw err;
    io.stderr(`eni-ipam max-pods: ${err.message}\n`);
    return 1;
  }
}
