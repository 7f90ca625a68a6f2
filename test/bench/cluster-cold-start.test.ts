import { describe, expect, it } from 'vitest';
import { coldStartCases, warmBoundSeconds } from '../../bench/cluster-cold-start.js';

// The cases' EC2: Assign 300 ms, Create 400 ms, Attach 2 s, visible 1 s after; EC2's default buckets.
const [defaults, , prefix] = coldStartCases(300, 200);

describe('the all-nodes-warm minimum of the cluster cold start', () => {
  it('with prefix delegation (no secondary ENI) is the Assign bucket passing one Assign per node', () => {
    // 100 at once, the other 100 at 5 a second: the last at 20 s, then 300 ms and 1 s.
    expect(warmBoundSeconds(prefix!.scenario, 200, 0)).toBeCloseTo(21.3, 6);
    // Within the burst every node's Assign goes at once.
    expect(warmBoundSeconds(prefix!.scenario, 100, 0)).toBeCloseTo(1.3, 6);
  });

  it('with secondary ENIs is the later of the Assign path and the Create and Attach path', () => {
    // 600 ENIs: the last Create at (600 - 100) / 5 = 100 s and Attach at (600 - 50) / 5 = 110 s,
    // then 2 s of attach and 1 s of visibility; 300 Assigns end at 40 s + 1.3 s.
    expect(warmBoundSeconds(defaults!.scenario, 300, 600)).toBeCloseTo(113, 6);
    // Few ENIs and many nodes: the Assigns bound it (1,000 nodes: 180 s + 1.3 s).
    expect(warmBoundSeconds(defaults!.scenario, 1000, 10)).toBeCloseTo(181.3, 6);
  });
});
