import { describe, expect, it } from 'vitest';
import { run } from '../../cli/max-pods.js';

async function maxPods(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  return { code, out: out.join(''), err: err.join('') };
}

describe('eni-ipam max-pods', () => {
  it.each([
    [['--instance-type', 'm5.large'], '29\n'],
    [['--instance-type', 'M5.Large'], '29\n'],
    [['--instance-type', 'M5.LARGE', '--prefix-delegation'], '110\n'],
    [['--instance-type', 'm5.large', '--custom-networking'], '20\n'],
    [['--instance-type', 'm5.large', '--max-eni', '2'], '20\n'],
    [['--instance-type', 'm5.large', '--prefix-delegation'], '110\n'],
    [['--instance-type', 'm5.24xlarge', '--prefix-delegation'], '250\n'],
    [['--enis', '3', '--ips-per-eni', '10'], '29\n'],
    [['--enis', '3', '--ips-per-eni', '10', '--prefix-delegation', '--vcpus', '2'], '110\n'],
  ])('%j prints %j', async (argv, expected) => {
    expect(await maxPods(...argv)).toEqual({ code: 0, out: expected, err: '' });
  });

  it('--json prints the breakdown', async () => {
    const { code, out } = await maxPods('--instance-type', 'm5.large', '--prefix-delegation', '--json');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({
      instanceType: 'm5.large',
      vcpus: 2,
      maxPods: 110,
      enis: 3,
      slotsPerEni: 9,
      addressesPerEni: 144,
      uncapped: 434,
      cap: 110,
      prefixDelegation: true,
    });
  });

  it('an unknown type exits 1 naming it and how to pass limits by hand', async () => {
    const { code, err } = await maxPods('--instance-type', 'm9.huge');
    expect(code).toBe(1);
    expect(err).toContain('unknown instance type "m9.huge"');
    expect(err).toContain('--enis N --ips-per-eni M');
  });

  it('prefix delegation on a Xen type exits 1 naming it', async () => {
    const { code, err } = await maxPods('--instance-type', 't2.micro', '--prefix-delegation');
    expect(code).toBe(1);
    expect(err).toContain('t2.micro');
  });

  it.each([
    [[]],
    [['--instance-type', 'm5.large', '--enis', '3']],
    [['--enis', '3']],
    [['--enis', '3', '--ips-per-eni', '10', '--prefix-delegation']],
    [['--instance-type', 'm5.large', '--max-eni', '0']],
    [['--instance-type', 'm5.large', '--max-eni', 'two']],
    [['--bogus']],
  ])('usage error %j exits 2', async (argv) => {
    const { code, err } = await maxPods(...argv);
    expect(code).toBe(2);
    expect(err).toContain('Usage: eni-ipam max-pods');
  });

  it('--help prints the usage', async () => {
    expect(await maxPods('--help')).toMatchObject({
      code: 0,
      out: expect.stringContaining('--instance-type TYPE') as unknown,
    });
  });
});
