import { latencyOf } from '../config.js';
import { Ec2WireError } from '../errors.js';
import type { SimState } from '../state.js';
import { itemSet, leaf, node } from '../xml.js';
import type { ActionContext } from './action.js';
import { STATE_CODE } from './describe-instances.js';

/**
 * Terminates at once (no `shutting-down` phase): ENIs with DeleteOnTermination are deleted with
 * their addresses; the others detach and are left `available`, which is how ENIs leak in real life.
 */
export function terminateInstance(state: SimState, instanceId: string): 'running' | 'terminated' {
  const instance = state.currentInstance(instanceId);
  if (!instance)
    throw new Ec2WireError('InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
  const previous = instance.state;
  if (previous === 'terminated') return previous;
  const detachMs = state.config.detachCompletionMs ?? latencyOf(state.config, 'DetachNetworkInterface');
  for (const eni of state.enisOfInstance(instanceId)) {
    const a = eni.attachment;
    if (!a) continue;
    if (a.deleteOnTermination) {
      state.deleteEni(eni.eniId);
      state.releaseEniAddresses(eni);
    } else {
      state.putEni({
        ...eni,
        attachment: { ...a, status: 'detaching', completesAt: state.now() + detachMs },
      });
    }
  }
  state.putInstance({ ...instance, state: 'terminated' });
  return previous;
}

export function terminateInstances({ state, params }: ActionContext): string {
  const ids = params.list('InstanceId');
  if (ids.length === 0)
    throw new Ec2WireError('MissingParameter', 'The request must contain the parameter InstanceId');
  for (const id of ids) {
    if (!state.currentInstance(id))
      throw new Ec2WireError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
  }
  const changes = ids.map((id) => ({ id, previous: terminateInstance(state, id) }));
  return itemSet('instancesSet', changes, ({ id, previous }) =>
    [
      leaf('instanceId', id),
      node('currentState', leaf('code', STATE_CODE.terminated), leaf('name', 'terminated')),
      node('previousState', leaf('code', STATE_CODE[previous]), leaf('name', previous)),
    ].join(''),
  );
}
