import type { ActionHandler } from './action.js';
import { assignPrivateIpAddresses, unassignPrivateIpAddresses } from './assign-unassign.js';
import { attachNetworkInterface, detachNetworkInterface } from './attach-detach.js';
import { createNetworkInterface } from './create-network-interface.js';
import { deleteNetworkInterface } from './delete-network-interface.js';
import { describeInstanceTypes } from './describe-instance-types.js';
import { describeInstances } from './describe-instances.js';
import { describeNetworkInterfaces } from './describe-network-interfaces.js';
import { describeSubnets } from './describe-subnets.js';
import { describeVpcs } from './describe-vpcs.js';
import { modifyNetworkInterfaceAttribute } from './modify-network-interface-attribute.js';
import { createTags, deleteTags } from './tags.js';
import { terminateInstances } from './terminate-instances.js';

/** Every EC2 action the simulator speaks; anything else is InvalidAction. */
export const ACTIONS: Readonly<Record<string, ActionHandler>> = {
  DescribeInstances: describeInstances,
  DescribeInstanceTypes: describeInstanceTypes,
  DescribeNetworkInterfaces: describeNetworkInterfaces,
  DescribeSubnets: describeSubnets,
  DescribeVpcs: describeVpcs,
  CreateNetworkInterface: createNetworkInterface,
  AttachNetworkInterface: attachNetworkInterface,
  DetachNetworkInterface: detachNetworkInterface,
  DeleteNetworkInterface: deleteNetworkInterface,
  ModifyNetworkInterfaceAttribute: modifyNetworkInterfaceAttribute,
  AssignPrivateIpAddresses: assignPrivateIpAddresses,
  UnassignPrivateIpAddresses: unassignPrivateIpAddresses,
  CreateTags: createTags,
  DeleteTags: deleteTags,
  TerminateInstances: terminateInstances,
};
