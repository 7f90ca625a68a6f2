import type {
  EniView,
  IntrospectionSource,
  PodView,
  ReadinessStatus,
  SubnetView,
} from '../../agent/introspection/introspection-source.js';
import type { CniRequestSample } from '../../agent/metrics/cni-request-timing.js';

/** A node with two ENIs, three pods and two subnets; fields are public so a test can change them. */
export class FakeIntrospectionSource implements IntrospectionSource {
  /** Absent unless a test sets it, as in an agent that keeps no request timings. */
  cniRequests?: () => CniRequestSample[];
  eniList: EniView[] = [
    {
      eniId: 'eni-0aaa',
      deviceIndex: 0,
      primary: true,
      subnetId: 'subnet-1',
      primaryIp: '10.0.1.10',
      secondaryIps: ['10.0.1.11', '10.0.1.12', '10.0.1.13', '10.0.1.14'],
      prefixes: [],
      assigned: 2,
      cooling: 1,
    },
    {
      eniId: 'eni-0bbb',
      deviceIndex: 1,
      primary: false,
      subnetId: 'subnet-2',
      primaryIp: '10.0.2.20',
      secondaryIps: ['10.0.2.21', '10.0.2.22'],
      prefixes: [],
      assigned: 1,
      cooling: 0,
      busy: true,
    },
  ];
  podList: PodView[] = [
    {
      namespace: 'default',
      name: 'web-1',
      uid: 'uid-1',
      containerId: '0123456789abcdef0123',
      ifName: 'eth0',
      ip: '10.0.1.11',
      eniId: 'eni-0aaa',
    },
    {
      namespace: 'kube-system',
      name: 'coredns-x',
      uid: 'uid-2',
      containerId: 'fedcba9876543210fedc',
      ifName: 'eth0',
      ip: '10.0.1.12',
      eniId: 'eni-0aaa',
    },
    {
      namespace: 'vms',
      name: 'virt-launcher-db',
      uid: 'uid-3',
      containerId: 'aaaabbbbccccddddeeee',
      ifName: 'eth0',
      ip: '10.0.2.21',
      eniId: 'eni-0bbb',
      owner: 'VirtualMachine vms/db',
    },
  ];
  subnetList: SubnetView[] = [
    { subnetId: 'subnet-1', availabilityZone: 'us-east-1a', cidr: '10.0.1.0/24', free: 180 },
    {
      subnetId: 'subnet-2',
      availabilityZone: 'us-east-1a',
      cidr: '10.0.2.0/24',
      free: 0,
      inFlight: 2,
      skippedUntil: Date.UTC(2026, 0, 1, 0, 3),
    },
  ];
  ready: ReadinessStatus = { firstReconcileDone: true, warmTargetMet: true, warmTargetInProgress: false };
  pendingAdds = 0;

  enis(): EniView[] {
    return this.eniList;
  }
  pods(): PodView[] {
    return this.podList;
  }
  subnets(): SubnetView[] {
    return this.subnetList;
  }
  config(): unknown {
    return { warmEniTarget: 1, warmIpTarget: null, nodeName: 'ip-10-0-1-10', cooldownSeconds: 30 };
  }
  planContext() {
    return {
      limits: { maxEnis: 3, ipv4PerEni: 10, maxPods: 29, prefixes: false, primaryEniExcluded: false },
      env: { WARM_ENI_TARGET: '1', WARM_IP_TARGET: '0' },
      pending: this.pendingAdds,
    };
  }
  /** What liveness says; readiness sees it too, as the agent's source does. */
  serving: { alive: boolean; reason: string } | undefined;
  readiness(): ReadinessStatus {
    return this.serving === undefined ? this.ready : { ...this.ready, serving: this.serving };
  }
  liveness(): { alive: boolean; reason: string } {
    return this.serving ?? { alive: true, reason: 'serving CNI calls' };
  }
}
