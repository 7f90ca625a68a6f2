import { Ec2WireError, missingParameter } from '../errors.js';
import { leaf } from '../xml.js';
import type { ActionContext } from './action.js';

/** Attachment.DeleteOnTermination, Description.Value and SecurityGroupId.N. */
export function modifyNetworkInterfaceAttribute({ state, params }: ActionContext): string {
  const eniId = params.require('NetworkInterfaceId');
  let eni = state.mutableEni(eniId);
  let changed = false;
  if (params.has('Attachment.AttachmentId') || params.has('Attachment.DeleteOnTermination')) {
    const attachmentId = params.require('Attachment.AttachmentId');
    const deleteOnTermination = params.bool('Attachment.DeleteOnTermination');
    if (deleteOnTermination === undefined) throw missingParameter('Attachment.DeleteOnTermination');
    if (eni.attachment?.attachmentId !== attachmentId) {
      throw new Ec2WireError(
        'InvalidAttachmentID.NotFound',
        `The attachment ID '${attachmentId}' does not exist`,
      );
    }
    eni = { ...eni, attachment: { ...eni.attachment, deleteOnTermination } };
    changed = true;
  }
  const description = params.get('Description.Value');
  if (description !== undefined) {
    eni = { ...eni, description };
    changed = true;
  }
  const groups = params.list('SecurityGroupId');
  if (groups.length > 0) {
    eni = { ...eni, securityGroupIds: groups };
    changed = true;
  }
  if (!changed) throw missingParameter('Attachment, Description or SecurityGroupId');
  state.putEni(eni);
  return leaf('return', true);
}
