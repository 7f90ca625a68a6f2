import { latencyOf } from '../config.js';
import { Ec2WireError, invalidParameterValue, missingParameter } from '../errors.js';
import type { SimEni } from '../model.js';
import { leaf } from '../xml.js';
import type { ActionContext } from './action.js';
import { checkAddressSlots, checkPrefixSupport, limitsOf, runningInstance } from './instance-limits.js';

/**
 * Attaches an `available` ENI. The action's latency is the whole attach (a scenario's
 * `AttachNetworkInterface: 2000` means an ENI attaches in 2 s), so by default the ENI is `in-use`
 * when the call returns; `attachCompletionMs` adds an `attaching` phase after the call, as EC2 has
 * when its API answers before the attachment completes. Attachments still attaching or detaching
 * count toward the instance type's ENI limit and hold their device index, as in EC2.
 */
export function attachNetworkInterface({ state, params }: ActionContext): string {
  const instanceId = params.require('InstanceId');
  const eniId = params.require('NetworkInterfaceId');
  const deviceIndex = params.int('DeviceIndex');
  if (deviceIndex === undefined) throw missingParameter('DeviceIndex');
  const networkCardIndex = params.int('NetworkCardIndex') ?? 0;
  const instance = runningInstance(state, instanceId);
  const limits = limitsOf(instance);
  const eni = state.mutableEni(eniId);
  if (networkCardIndex !== 0)
    throw invalidParameterValue(
      `Network card index ${networkCardIndex} is not valid for ${limits.instanceType}`,
    );
  if (deviceIndex < 0) throw invalidParameterValue(`Device index ${deviceIndex} is not valid`);
  if (eni.attachment)
    throw new Ec2WireError('InvalidNetworkInterface.InUse', `Interface: [${eniId}] in use.`);
  if (eni.availabilityZone !== instance.availabilityZone) {
    throw invalidParameterValue(
      `Interface ${eniId} is in ${eni.availabilityZone}, instance ${instanceId} in ${instance.availabilityZone}`,
    );
  }
  const attached = state.enisOfInstance(instanceId);
  if (attached.some((e) => e.attachment?.deviceIndex === deviceIndex)) {
    throw invalidParameterValue(
      `Instance '${instanceId}' already has an interface attached at device index '${deviceIndex}'.`,
    );
  }
  if (attached.length >= limits.maxEnis) {
    throw new Ec2WireError(
      'AttachmentLimitExceeded',
      `Interface count ${attached.length + 1} exceeds the limit for ${limits.instanceType}`,
    );
  }
  checkAddressSlots(limits, eniId, 1 + eni.secondaryIps.length + eni.prefixes.length);
  checkPrefixSupport(limits, eni.prefixes.length);
  const attachmentId = state.newId('eni-attach');
  const completion = state.config.attachCompletionMs ?? 0;
  const updated: SimEni = {
    ...eni,
    attachment: {
      attachmentId,
      instanceId,
      deviceIndex,
      networkCardIndex,
      status: 'attaching',
      completesAt: state.now() + completion,
      deleteOnTermination: false,
      attachTime: state.now(),
    },
  };
  state.putEni(updated);
  return leaf('attachmentId', attachmentId) + leaf('networkCardIndex', networkCardIndex);
}

/** Finds the ENI that carries an attachment now, or InvalidAttachmentID.NotFound. */
export function eniByAttachment(context: ActionContext, attachmentId: string): SimEni {
  const eni = context.state.currentEnis().find((e) => e.attachment?.attachmentId === attachmentId);
  if (!eni)
    throw new Ec2WireError(
      'InvalidAttachmentID.NotFound',
      `The attachment ID '${attachmentId}' does not exist`,
    );
  return eni;
}

/** `detaching` for `detachCompletionMs` (default: the action's latency), then `available`. */
export function detachNetworkInterface(context: ActionContext): string {
  const { state, params } = context;
  const attachmentId = params.require('AttachmentId');
  const eni = eniByAttachment(context, attachmentId);
  const attachment = eni.attachment;
  if (!attachment) throw new Error('unreachable: eniByAttachment returned an unattached ENI');
  if (attachment.deviceIndex === 0) {
    throw new Ec2WireError(
      'OperationNotPermitted',
      'The network interface at device index 0 cannot be detached.',
    );
  }
  if (attachment.status !== 'detaching') {
    const completion = state.config.detachCompletionMs ?? latencyOf(state.config, 'DetachNetworkInterface');
    state.putEni({
      ...eni,
      attachment: { ...attachment, status: 'detaching', completesAt: state.now() + completion },
    });
  }
  return leaf('return', true);
}
