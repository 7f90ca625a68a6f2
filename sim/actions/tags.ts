import { Ec2WireError, eniNotFound, invalidParameterValue } from '../errors.js';
import { leaf } from '../xml.js';
import type { ActionContext } from './action.js';

type TagEdit = (tags: Readonly<Record<string, string>>) => Record<string, string>;

/** Applies a tag edit to ENIs, subnets or instances, all resources validated before any changes. */
function editTags({ state, params }: ActionContext, edit: TagEdit): void {
  const ids = params.list('ResourceId');
  if (ids.length === 0)
    throw new Ec2WireError('MissingParameter', 'The request must contain the parameter resourceIdSet');
  const apply: (() => void)[] = ids.map((id) => {
    if (id.startsWith('eni-')) {
      const eni = state.mutableEni(id);
      return () => {
        state.putEni({ ...eni, tags: edit(eni.tags) });
      };
    }
    if (id.startsWith('subnet-')) {
      const subnet = state.currentSubnet(id);
      if (!subnet) throw new Ec2WireError('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`);
      return () => {
        state.updateSubnet(id, { tags: edit(subnet.tags) });
      };
    }
    if (id.startsWith('i-')) {
      const instance = state.currentInstance(id);
      if (!instance)
        throw new Ec2WireError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
      return () => {
        state.putInstance({ ...instance, tags: edit(instance.tags) });
      };
    }
    if (id.startsWith('eni')) throw eniNotFound(id);
    throw new Ec2WireError('InvalidID', `The ID '${id}' is not valid`);
  });
  for (const f of apply) f();
}

export function createTags(context: ActionContext): string {
  const tags = context.params.tags('Tag');
  if (tags.length === 0)
    throw new Ec2WireError('MissingParameter', 'The request must contain the parameter tagSet');
  for (const { key } of tags)
    if (key.startsWith('aws:')) throw invalidParameterValue(`Tag keys starting with 'aws:' are reserved`);
  editTags(context, (current) => {
    const next = { ...current };
    for (const { key, value } of tags) next[key] = value ?? '';
    return next;
  });
  return leaf('return', true);
}

/** A tag given with a value is deleted only when the value matches; without a value, always. */
export function deleteTags(context: ActionContext): string {
  const tags = context.params.tags('Tag');
  editTags(context, (current) => {
    if (tags.length === 0) return {};
    const doomed = (key: string, value: string): boolean =>
      tags.some((t) => t.key === key && (t.value === undefined || t.value === value));
    return Object.fromEntries(Object.entries(current).filter(([key, value]) => !doomed(key, value)));
  });
  return leaf('return', true);
}
