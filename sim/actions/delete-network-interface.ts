import { Ec2WireError } from '../errors.js';
import { leaf } from '../xml.js';
import type { ActionContext } from './action.js';

/** Only an `available` ENI can be deleted; its addresses return to the subnet at once. */
export function deleteNetworkInterface({ state, params }: ActionContext): string {
  const eniId = params.require('NetworkInterfaceId');
  const eni = state.mutableEni(eniId);
  if (eni.attachment) {
    throw new Ec2WireError(
      'InvalidNetworkInterface.InUse',
      `Network interface '${eniId}' is currently in use.`,
    );
  }
  state.deleteEni(eniId);
  state.releaseEniAddresses(eni);
  return leaf('return', true);
}
