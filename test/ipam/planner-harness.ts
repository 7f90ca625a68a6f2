/**
 * A tiny model of EC2 for planner tests: applies a decision's actions to the ENI list the way the
 * agent's executor would once EC2 shows them, and drives pods onto a node one at a time.
 */
import { lookupInstanceType } from '../../ipam/instance-types.js';
import { maxPods } from '../../ipam/max-pods.js';
import type { EniUsage, PlanAction, PlanInput, PlanLimits, WarmTargets } from '../../ipam/plan-types.js';
import { plan } from '../../ipam/planner.js';

export function targets(overrides: Partial<WarmTargets> = {}): WarmTargets {
  return {
    warmEniTarget: 1,
    warmIpTarget: undefined,
    minimumIpTarget: undefined,
    warmPrefixTarget: undefined,
    maxEni: undefined,
    prefixDelegation: false,
    ...overrides,
  };
}

export function eni(id: string, fields: Partial<EniUsage> = {}): EniUsage {
  return { id, primary: false, ips: 0, prefixes: 0, assigned: 0, cooldown: 0, ...fields };
}

export function limitsFor(instanceType: string, prefixes = false): PlanLimits {
  const limits = lookupInstanceType(instanceType);
  if (limits === undefined) throw new Error(`no limits for ${instanceType}`);
  return {
    maxEnis: limits.maxEnis,
    ipv4PerEni: limits.ipv4PerEni,
    maxPods: maxPods(limits, { prefixDelegation: prefixes }).maxPods,
    prefixes,
  };
}

export function input(fields: Partial<PlanInput> & Pick<PlanInput, 'limits'>): PlanInput {
  return { targets: targets(), enis: [eni('eni-primary', { primary: true })], pending: 0, ...fields };
}

/** The ENIs after EC2 has carried out `actions`; created ENIs are named eni-new-1, eni-new-2, ... */
export function apply(state: PlanInput, actions: readonly PlanAction[]): PlanInput {
  let enis = state.enis.map((e) => ({ ...e }));
  let created = enis.filter((e) => e.id.startsWith('eni-new-')).length;
  const find = (id: string): EniUsage => {
    const found = enis.find((e) => e.id === id);
    if (found === undefined) throw new Error(`action on unknown ENI ${id}`);
    return found;
  };
  for (const action of actions) {
    switch (action.type) {
      case 'assignIps':
        find(action.eni).ips += action.count;
        break;
      case 'assignPrefixes':
        find(action.eni).prefixes += action.count;
        break;
      case 'unassignIps':
        find(action.eni).ips -= action.count;
        break;
      case 'unassignPrefixes':
        find(action.eni).prefixes -= action.count;
        break;
      case 'createEni':
        created += 1;
        enis.push(
          eni(
            `eni-new-${created}`,
            state.limits.prefixes ? { prefixes: action.count } : { ips: action.count },
          ),
        );
        break;
      case 'deleteEni':
        enis = enis.filter((e) => e.id !== action.eni);
        break;
    }
  }
  return { ...state, enis };
}

/** Plans and applies until the planner asks for nothing more (at most 20 rounds). */
export function settle(state: PlanInput): PlanInput {
  let current = state;
  for (let round = 0; round < 20; round++) {
    const { actions } = plan(current);
    if (actions.length === 0) return current;
    current = apply(current, actions);
  }
  throw new Error('planner did not settle in 20 rounds');
}

export function addresses(e: EniUsage): number {
  return e.ips + e.prefixes * 16;
}

/** Starts a pod on the first ENI (planning order) with a free address; false when there is none. */
function placePod(state: PlanInput): boolean {
  const excluded = state.limits.primaryEniExcluded === true;
  const ordered = [...state.enis]
    .filter((e) => !(excluded && e.primary))
    .sort((a, b) => (a.primary !== b.primary ? (a.primary ? -1 : 1) : a.id < b.id ? -1 : 1));
  const target = ordered.find((e) => addresses(e) - e.assigned - e.cooldown > 0);
  if (target === undefined) return false;
  target.assigned += 1;
  return true;
}

/**
 * A node that starts with an empty primary ENI and receives `pods` pods one at a time, the planner
 * settling after each (a pod that finds no address waits as pending demand).
 */
export function growTo(limits: PlanLimits, warm: WarmTargets, pods: number): PlanInput {
  let state = settle(input({ limits, targets: warm }));
  for (let pod = 0; pod < pods; pod++) {
    state = { ...state, enis: state.enis.map((e) => ({ ...e })) };
    if (!placePod(state)) {
      state = settle({ ...state, pending: 1 });
      state = { ...state, pending: 0, enis: state.enis.map((e) => ({ ...e })) };
      if (!placePod(state)) throw new Error(`no address for pod ${pod + 1}`);
    }
    state = settle(state);
  }
  return state;
}

export function summary(state: PlanInput): {
  enis: number;
  units: number[];
  addresses: number;
  unused: number;
} {
  const units = state.enis.map((e) => (state.limits.prefixes ? e.prefixes : e.ips));
  const total = state.enis.reduce((sum, e) => sum + addresses(e), 0);
  const assigned = state.enis.reduce((sum, e) => sum + e.assigned, 0);
  return { enis: state.enis.length, units, addresses: total, unused: total - assigned };
}
