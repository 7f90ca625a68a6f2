import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, test } from 'vitest';
import { failure } from './helpers.js';
import { inProcessWorld } from './world.js';

describe('account-level token buckets', () => {
  test('unfiltered Describe: 50 at once, then RequestLimitExceeded (503), then 10 per second', async () => {
    const w = inProcessWorld({ throttling: 'aws' });
    const call = () => w.run(w.ec2.send(new DescribeNetworkInterfacesCommand({})));
    for (let i = 0; i < 50; i++) await call();
    expect(await failure(call())).toMatchObject({ name: 'RequestLimitExceeded', status: 503 });
    await w.clock.advance(1_000);
    for (let i = 0; i < 10; i++) await call();
    expect((await failure(call())).name).toBe('RequestLimitExceeded');
    expect(w.cloud.stats().throttled).toBe(2);
    expect(w.cloud.stats().calls.DescribeNetworkInterfaces).toBe(62);
  });

  test('filtered Describe has its own bucket of 100, refilled at 20 per second', async () => {
    const w = inProcessWorld({ throttling: 'aws' });
    const filtered = () =>
      w.run(
        w.ec2.send(
          new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'vpc-id', Values: ['vpc-0sim'] }] }),
        ),
      );
    for (let i = 0; i < 100; i++) await filtered();
    expect((await failure(filtered())).name).toBe('RequestLimitExceeded');
    // Other APIs are not affected.
    await w.run(w.ec2.send(new DescribeInstancesCommand({})));
    await w.clock.advance(500);
    for (let i = 0; i < 10; i++) await filtered();
    expect((await failure(filtered())).name).toBe('RequestLimitExceeded');
  });

  test('CreateTags: 100 then 10 per second; throttling "none" never refuses', async () => {
    const w = inProcessWorld({ throttling: 'aws' });
    const node = w.cloud.launchInstance({ instanceType: 'm5.large', subnetId: 'subnet-a' });
    const tag = () =>
      w.run(
        w.ec2.send(
          new CreateTagsCommand({ Resources: [node.primaryEniId], Tags: [{ Key: 'k', Value: 'v' }] }),
        ),
      );
    for (let i = 0; i < 100; i++) await tag();
    expect((await failure(tag())).name).toBe('RequestLimitExceeded');
    await w.clock.advance(100);
    await tag();
    expect((await failure(tag())).name).toBe('RequestLimitExceeded');

    const free = inProcessWorld({ throttling: 'none' });
    for (let i = 0; i < 200; i++) await free.run(free.ec2.send(new DescribeNetworkInterfacesCommand({})));
    expect(free.cloud.stats().throttled).toBe(0);
  });
});

describe('fault injection', () => {
  async function outcomes(seed: number): Promise<string[]> {
    const w = inProcessWorld({ seed, faults: { serverErrorRate: 0.3 } });
    const out: string[] = [];
    for (let i = 0; i < 40; i++) {
      try {
        await w.run(w.ec2.send(new DescribeNetworkInterfacesCommand({})));
        out.push('ok');
      } catch (err) {
        const e = err as { name: string; $metadata: { httpStatusCode?: number } };
        out.push(`${e.name}/${e.$metadata.httpStatusCode}`);
      }
    }
    return out;
  }

  test('the same seed gives the same 5xx faults; another seed other faults', async () => {
    const a = await outcomes(7);
    expect(await outcomes(7)).toEqual(a);
    expect(await outcomes(8)).not.toEqual(a);
    const errors = a.filter((o) => o !== 'ok');
    expect(errors.length).toBeGreaterThan(3);
    expect(errors.length).toBeLessThan(25);
    for (const e of errors) expect(['InternalError/500', 'Unavailable/503']).toContain(e);
  });

  test('a timed-out call fails with TimeoutError after timeoutMs of simulated time', async () => {
    const w = inProcessWorld({ faults: { timeoutRate: 1, timeoutMs: 3_000, timeoutAppliedRate: 1 } });
    const node = w.cloud.launchInstance({ instanceType: 'm5.large', subnetId: 'subnet-a' });
    const start = w.clock.now();
    const err = await failure(
      w.run(
        w.ec2.send(
          new CreateTagsCommand({ Resources: [node.primaryEniId], Tags: [{ Key: 'k', Value: 'v' }] }),
        ),
      ),
    );
    expect(err.name).toBe('TimeoutError');
    expect(w.clock.now() - start).toBe(3_000);
    // timeoutAppliedRate 1: the request reached EC2, only the response was lost.
    expect(w.cloud.eni(node.primaryEniId)?.tags).toEqual({ k: 'v' });
    expect(w.cloud.stats().timeouts).toBe(1);
  });
});
