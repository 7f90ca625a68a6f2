/** The simulated EC2's records. Immutable snapshots: a mutation stores a new one (see versioned.ts). */
export type EniStatus = 'available' | 'attaching' | 'in-use' | 'detaching';
export type AttachmentStatus = 'attaching' | 'attached' | 'detaching';

export interface SimAttachment {
  readonly attachmentId: string;
  readonly instanceId: string;
  readonly deviceIndex: number;
  readonly networkCardIndex: number;
  readonly status: AttachmentStatus;
  /** When `attaching` becomes `attached`, or `detaching` ends (the attachment disappears). */
  readonly completesAt: number;
  readonly deleteOnTermination: boolean;
  readonly attachTime: number;
}

export interface SimEni {
  readonly eniId: string;
  readonly subnetId: string;
  readonly vpcId: string;
  readonly availabilityZone: string;
  readonly description: string;
  readonly macAddress: string;
  readonly primaryIp: string;
  readonly secondaryIps: readonly string[];
  /** /28 prefixes as CIDR strings. */
  readonly prefixes: readonly string[];
  readonly securityGroupIds: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
  readonly attachment: SimAttachment | undefined;
  readonly createdAt: number;
}

export type InstanceState = 'running' | 'terminated';

export interface SimInstance {
  readonly instanceId: string;
  readonly instanceType: string;
  readonly subnetId: string;
  readonly vpcId: string;
  readonly availabilityZone: string;
  readonly securityGroupIds: readonly string[];
  readonly primaryEniId: string;
  readonly state: InstanceState;
  readonly launchedAt: number;
  readonly tags: Readonly<Record<string, string>>;
}

export interface SimSubnet {
  readonly subnetId: string;
  readonly vpcId: string;
  readonly availabilityZone: string;
  readonly cidr: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly availableIpAddressCount: number;
}

export interface SimVpc {
  readonly vpcId: string;
  readonly cidr: string;
}

/**
 * Attach and detach finish on their own some time after the API call: rather than timers, the
 * record carries `completesAt` and is read through this function at the time that matters (now
 * for mutations; now minus the visibility delay for Describe* and IMDS).
 */
export function eniAt(eni: SimEni, at: number): SimEni {
  const a = eni.attachment;
  if (!a || a.status === 'attached' || at < a.completesAt) return eni;
  // One record for the completed state, so that every later read sees the same snapshot (and the
  // renderers' per-record memo holds for an ENI attached long ago and never changed since).
  let completed = completedRecords.get(eni);
  if (!completed) {
    completed =
      a.status === 'attaching'
        ? { ...eni, attachment: { ...a, status: 'attached' } }
        : { ...eni, attachment: undefined };
    completedRecords.set(eni, completed);
  }
  return completed;
}

/** Each record with an attach or detach under way -> the record once it completed. */
const completedRecords = new WeakMap<SimEni, SimEni>();

export function eniStatus(eni: SimEni): EniStatus {
  switch (eni.attachment?.status) {
    case undefined:
      return 'available';
    case 'attaching':
      return 'attaching';
    case 'attached':
      return 'in-use';
    case 'detaching':
      return 'detaching';
  }
}
