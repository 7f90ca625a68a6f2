import { describe, expect, it } from 'vitest';
import {
  addInFlight,
  chooseSubnet,
  clearInFlight,
  markFull,
  subnetChoiceState,
  type SubnetCandidate,
} from '../../ipam/subnet-choice.js';
import { DEFAULT_SUBNET_FULL_SKIP_SECONDS } from '../../agent/intervals.js';

const FULL_WINDOW_MS = DEFAULT_SUBNET_FULL_SKIP_SECONDS * 1000;

function subnet(
  subnetId: string,
  availableIpCount: number,
  tags: Record<string, string> = {},
): SubnetCandidate {
  return { subnetId, availabilityZone: 'eu-west-1a', cidr: '10.0.0.0/24', availableIpCount, tags };
}

const T0 = 1_700_000_000_000;

describe('chooseSubnet', () => {
  it('picks the subnet with the most free addresses', () => {
    const choice = chooseSubnet(
      [subnet('subnet-a', 10), subnet('subnet-b', 50), subnet('subnet-c', 20)],
      subnetChoiceState({ fullWindowMs: FULL_WINDOW_MS }),
      T0,
    );
    expect(choice).toMatchObject({ ok: true, subnetId: 'subnet-b', free: 50 });
  });

  it('deducts addresses in flight', () => {
    let state = subnetChoiceState({ fullWindowMs: FULL_WINDOW_MS });
    state = addInFlight(state, 'subnet-b', 45);
    const choice = chooseSubnet([subnet('subnet-a', 10), subnet('subnet-b', 50)], state, T0);
    expect(choice).toMatchObject({ ok: true, subnetId: 'subnet-a', free: 10 });
  });

  it('breaks ties by subnet id, whatever the order of the candidates', () => {
    const a = chooseSubnet(
      [subnet('subnet-b', 30), subnet('subnet-a', 30)],
      subnetChoiceState({ fullWindowMs: FULL_WINDOW_MS }),
      T0,
    );
    const b = chooseSubnet(
      [subnet('subnet-a', 30), subnet('subnet-b', 30)],
      subnetChoiceState({ fullWindowMs: FULL_WINDOW_MS }),
      T0,
    );
    expect(a).toMatchObject({ ok: true, subnetId: 'subnet-a' });
    expect(b).toEqual(a);
  });

  it('never chooses a subnet tagged kubernetes.io/role/cni=0, however free', () => {
    const choice = chooseSubnet(
      [
        subnet('subnet-a', 5000, { 'kubernetes.io/role/cni': '0' }),
        subnet('subnet-b', 5, { 'kubernetes.io/role/cni': '1' }),
      ],
      subnetChoiceState({ fullWindowMs: FULL_WINDOW_MS }),
      T0,
    );
    expect(choice).toMatchObject({ ok: true, subnetId: 'subnet-b' });
    expect(
      chooseSubnet(
        [subnet('subnet-a', 5000, { 'kubernetes.io/role/cni': '0' })],
        subnetChoiceState({ fullWindowMs: FULL_WINDOW_MS }),
        T0,
      ),
    ).toMatchObject({
      ok: false,
      reason: 'opted-out',
    });
  });

  it('skips a subnet that answered "full" for the window, then tries it again', () => {
    const state = markFull(subnetChoiceState({ fullWindowMs: FULL_WINDOW_MS }), 'subnet-b', T0);
    const candidates = [subnet('subnet-a', 10), subnet('subnet-b', 50)];
    expect(chooseSubnet(candidates, state, T0 + FULL_WINDOW_MS - 1)).toMatchObject({
      subnetId: 'subnet-a',
    });
    expect(chooseSubnet(candidates, state, T0 + FULL_WINDOW_MS)).toMatchObject({
      subnetId: 'subnet-b',
    });
  });

  it('says when to retry when every subnet answered "full"', () => {
    let state = subnetChoiceState({ fullWindowMs: 60_000 });
    state = markFull(state, 'subnet-a', T0);
    state = markFull(state, 'subnet-b', T0 + 10_000);
    const choice = chooseSubnet([subnet('subnet-a', 10), subnet('subnet-b', 50)], state, T0 + 20_000);
    expect(choice).toMatchObject({ ok: false, reason: 'recently-full', retryAt: T0 + 60_000 });
    if (!choice.ok) expect(choice.message).toContain('subnet-a, subnet-b');
  });

  it('markFull forgets expired marks', () => {
    let state = subnetChoiceState({ fullWindowMs: 1000 });
    state = markFull(state, 'subnet-a', T0);
    state = markFull(state, 'subnet-b', T0 + 5000);
    expect([...state.fullAt.keys()]).toEqual(['subnet-b']);
  });

  it('reports too few free addresses and no candidates', () => {
    expect(
      chooseSubnet([subnet('subnet-a', 3)], subnetChoiceState({ fullWindowMs: FULL_WINDOW_MS }), T0, 10),
    ).toMatchObject({
      ok: false,
      reason: 'too-few-free',
    });
    expect(chooseSubnet([], subnetChoiceState({ fullWindowMs: FULL_WINDOW_MS }), T0)).toMatchObject({
      ok: false,
      reason: 'no-candidates',
    });
  });

  it('clearInFlight subtracts, or clears the subnet', () => {
    let state = addInFlight(
      addInFlight(subnetChoiceState({ fullWindowMs: FULL_WINDOW_MS }), 'subnet-a', 10),
      'subnet-a',
      5,
    );
    expect(state.inFlight.get('subnet-a')).toBe(15);
    state = clearInFlight(state, 'subnet-a', 10);
    expect(state.inFlight.get('subnet-a')).toBe(5);
    state = clearInFlight(state, 'subnet-a', 10);
    expect(state.inFlight.has('subnet-a')).toBe(false);
    state = clearInFlight(addInFlight(state, 'subnet-a', 3), 'subnet-a');
    expect(state.inFlight.has('subnet-a')).toBe(false);
    // A negative count takes back a prediction, never below zero (which would inflate the free count).
    state = addInFlight(addInFlight(state, 'subnet-a', 3), 'subnet-a', -5);
    expect(state.inFlight.has('subnet-a')).toBe(false);
  });

  it('never mutates the state it is given', () => {
    const state = subnetChoiceState({ fullWindowMs: FULL_WINDOW_MS });
    addInFlight(state, 'subnet-a', 1);
    markFull(state, 'subnet-a', T0);
    expect(state.inFlight.size + state.fullAt.size).toBe(0);
  });
});
