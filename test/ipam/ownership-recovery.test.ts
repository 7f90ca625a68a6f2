import { describe, expect, it } from 'vitest';
import {
  decideOwnership,
  isQuarantineKey,
  isRecoveredKey,
  quarantineKey,
  recoveredKey,
  staleRecovered,
  type PodAddresses,
  type SandboxAddresses,
} from '../../ipam/ownership-recovery.js';

function pod(uid: string, podIps: string[], extra: Partial<PodAddresses> = {}): PodAddresses {
  return {
    uid,
    namespace: 'default',
    name: `pod-${uid}`,
    podIps,
    terminal: false,
    hostNetwork: false,
    ...extra,
  };
}

/** A READY sandbox of the container runtime; the same uid names the same pod as `pod(uid)`. */
function sandbox(uid: string, ips: string[]): SandboxAddresses {
  return { uid, namespace: 'default', name: `pod-${uid}`, ips };
}

const none = new Set<string>();

describe('decideOwnership', () => {
  const cases: {
    name: string;
    quarantined: string[];
    pods: PodAddresses[] | undefined;
    /** The runtime's READY sandboxes; absent: the runtime could not be asked. */
    sandboxes?: SandboxAddresses[];
    known?: string[];
    adopt: [string, string][];
    release: string[];
    keep: string[];
    why: string;
  }[] = [
    {
      name: 'pods unknown (API server unreachable): everything stays quarantined',
      quarantined: ['10.0.0.5', '10.0.0.6'],
      pods: undefined,
      adopt: [],
      release: [],
      keep: ['10.0.0.5', '10.0.0.6'],
      why: 'pods-unknown',
    },
    {
      name: 'a running pod reports the address: adopted by that pod; the rest released',
      quarantined: ['10.0.0.5', '10.0.0.6'],
      pods: [pod('a', ['10.0.0.5'])],
      adopt: [['10.0.0.5', 'a']],
      release: ['10.0.0.6'],
      keep: [],
      why: 'resolved',
    },
    {
      name: 'a terminated pod does not hold its address',
      quarantined: ['10.0.0.5'],
      pods: [pod('a', ['10.0.0.5'], { terminal: true })],
      adopt: [],
      release: ['10.0.0.5'],
      keep: [],
      why: 'resolved',
    },
    {
      name: 'a host-network pod reports the node address, never ours',
      quarantined: ['10.0.0.5'],
      pods: [pod('h', ['10.0.0.5'], { hostNetwork: true })],
      adopt: [],
      release: ['10.0.0.5'],
      keep: [],
      why: 'resolved',
    },
    {
      name: 'a live pod without reported addresses may hold any unclaimed one: keep them',
      quarantined: ['10.0.0.5', '10.0.0.6'],
      pods: [pod('a', ['10.0.0.5']), pod('b', [])],
      adopt: [['10.0.0.5', 'a']],
      release: [],
      keep: ['10.0.0.6'],
      why: 'pods-without-addresses',
    },
    {
      name: 'a pod without reported addresses that holds a known one blocks nothing',
      quarantined: ['10.0.0.6'],
      pods: [pod('b', [])],
      known: ['b'],
      adopt: [],
      release: ['10.0.0.6'],
      keep: [],
      why: 'resolved',
    },
    {
      name: 'two live pods report the same address: kept, the cluster view is inconsistent',
      quarantined: ['10.0.0.5', '10.0.0.6'],
      pods: [pod('a', ['10.0.0.5']), pod('b', ['10.0.0.5'])],
      adopt: [],
      release: ['10.0.0.6'],
      keep: ['10.0.0.5'],
      why: 'ambiguous',
    },
    {
      name: 'nothing quarantined: nothing to do, whatever the pods',
      quarantined: [],
      pods: undefined,
      adopt: [],
      release: [],
      keep: [],
      why: 'resolved',
    },
    {
      name: 'no pods on the node: every address released',
      quarantined: ['10.0.0.5'],
      pods: [],
      adopt: [],
      release: ['10.0.0.5'],
      keep: [],
      why: 'resolved',
    },
    {
      name: 'API server unreachable, the runtime reports a sandbox: adopted by its pod; the rest stays',
      quarantined: ['10.0.0.5', '10.0.0.6'],
      pods: undefined,
      sandboxes: [sandbox('a', ['10.0.0.5'])],
      adopt: [['10.0.0.5', 'a']],
      release: [],
      keep: ['10.0.0.6'],
      why: 'pods-unknown',
    },
    {
      name: 'API server unreachable, the runtime reports nothing: the runtime alone frees nothing',
      quarantined: ['10.0.0.5'],
      pods: undefined,
      sandboxes: [],
      adopt: [],
      release: [],
      keep: ['10.0.0.5'],
      why: 'pods-unknown',
    },
    {
      name: 'API server unreachable, a sandbox still setting up (no address yet): nothing freed',
      quarantined: ['10.0.0.5'],
      pods: undefined,
      sandboxes: [sandbox('a', [])],
      adopt: [],
      release: [],
      keep: ['10.0.0.5'],
      why: 'pods-unknown',
    },
    {
      name: 'additional_ips count as the sandbox’s addresses',
      quarantined: ['10.0.0.5', '10.0.0.6'],
      pods: undefined,
      sandboxes: [sandbox('a', ['10.0.0.5', '10.0.0.6'])],
      adopt: [
        ['10.0.0.5', 'a'],
        ['10.0.0.6', 'a'],
      ],
      release: [],
      keep: [],
      why: 'resolved',
    },
    {
      name: 'both sources name the same pod: adopted once',
      quarantined: ['10.0.0.5'],
      pods: [pod('a', ['10.0.0.5'])],
      sandboxes: [sandbox('a', ['10.0.0.5'])],
      adopt: [['10.0.0.5', 'a']],
      release: [],
      keep: [],
      why: 'resolved',
    },
    {
      name: 'the runtime and the API server name different pods: the quarantine stays',
      quarantined: ['10.0.0.5', '10.0.0.6'],
      pods: [pod('a', ['10.0.0.5'])],
      sandboxes: [sandbox('b', ['10.0.0.5'])],
      adopt: [],
      release: ['10.0.0.6'],
      keep: ['10.0.0.5'],
      why: 'ambiguous',
    },
    {
      name: 'two READY sandboxes report one address: the quarantine stays',
      quarantined: ['10.0.0.5'],
      pods: undefined,
      sandboxes: [sandbox('a', ['10.0.0.5']), sandbox('b', ['10.0.0.5'])],
      adopt: [],
      release: [],
      keep: ['10.0.0.5'],
      why: 'ambiguous',
    },
    {
      name: 'kubelet has not posted podIPs yet but the sandbox reports the address: adopted, the rest released',
      quarantined: ['10.0.0.5', '10.0.0.6'],
      pods: [pod('a', [])],
      sandboxes: [sandbox('a', ['10.0.0.5'])],
      adopt: [['10.0.0.5', 'a']],
      release: ['10.0.0.6'],
      keep: [],
      why: 'resolved',
    },
    {
      name: 'a pod with neither podIPs nor a sandbox address may hold any: nothing released',
      quarantined: ['10.0.0.5', '10.0.0.6'],
      pods: [pod('a', ['10.0.0.5']), pod('b', [])],
      sandboxes: [sandbox('a', ['10.0.0.5']), sandbox('b', [])],
      adopt: [['10.0.0.5', 'a']],
      release: [],
      keep: ['10.0.0.6'],
      why: 'pods-without-addresses',
    },
    {
      name: 'a sandbox the API server no longer lists still holds its address: adopted',
      quarantined: ['10.0.0.5', '10.0.0.6'],
      pods: [],
      sandboxes: [sandbox('gone', ['10.0.0.5'])],
      adopt: [['10.0.0.5', 'gone']],
      release: ['10.0.0.6'],
      keep: [],
      why: 'resolved',
    },
    {
      name: 'a terminated pod’s sandbox still READY: the sandbox holds the address',
      quarantined: ['10.0.0.5'],
      pods: [pod('a', ['10.0.0.5'], { terminal: true })],
      sandboxes: [sandbox('a', ['10.0.0.5'])],
      adopt: [['10.0.0.5', 'a']],
      release: [],
      keep: [],
      why: 'resolved',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decideOwnership({
        quarantined: c.quarantined,
        pods: c.pods,
        ...(c.sandboxes ? { sandboxes: c.sandboxes } : {}),
        podsWithKnownAddress: c.known ? new Set(c.known) : none,
      });
      expect(d.adopt.map((a) => [a.address, a.pod.uid])).toEqual(c.adopt);
      expect(d.release).toEqual(c.release);
      expect(d.keep).toEqual(c.keep);
      expect(d.why).toBe(c.why);
    });
  }

  it('every quarantined address is adopted, released or kept, exactly once', () => {
    const quarantined = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'];
    const d = decideOwnership({
      quarantined,
      pods: [pod('a', ['10.0.0.1', '10.0.0.9']), pod('b', ['10.0.0.2'], { terminal: true })],
      podsWithKnownAddress: none,
    });
    const all = [...d.adopt.map((a) => a.address), ...d.release, ...d.keep].sort();
    expect(all).toEqual(quarantined);
  });
});

describe('quarantine keys', () => {
  it('tell quarantined and recovered assignments apart from CNI attachments', () => {
    expect(isQuarantineKey(quarantineKey('10.0.0.5'))).toBe(true);
    expect(isRecoveredKey(recoveredKey('uid-1', '10.0.0.5'))).toBe(true);
    expect(isQuarantineKey({ containerId: 'abc', ifName: 'eth0' })).toBe(false);
    expect(isRecoveredKey({ containerId: 'abc', ifName: 'eth0' })).toBe(false);
  });
});

describe('staleRecovered', () => {
  const cases: [string, PodAddresses[] | undefined, string[]][] = [
    ['pods unknown: nothing', undefined, []],
    ['the pod still reports it: kept', [pod('a', ['10.0.0.5'])], []],
    ['the pod reports another address (new sandbox): released', [pod('a', ['10.0.0.9'])], ['10.0.0.5']],
    ['the pod reports nothing yet: kept', [pod('a', [])], []],
    ['the pod is gone: left to the leak reaper', [], []],
    ['the pod terminated: left to the leak reaper', [pod('a', ['10.0.0.9'], { terminal: true })], []],
  ];
  for (const [name, pods, released] of cases) {
    it(name, () => {
      expect(staleRecovered([{ address: '10.0.0.5', podUid: 'a' }], pods)).toEqual(released);
    });
  }
});
