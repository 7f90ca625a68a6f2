import { invalidParameterValue } from '../errors.js';
import type { QueryParams } from '../query-protocol.js';

/** Tags from `TagSpecification.N` entries whose ResourceType is `resourceType`. */
export function tagsFromSpecifications(params: QueryParams, resourceType: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const i of params.indices('TagSpecification')) {
    const type = params.get(`TagSpecification.${i}.ResourceType`);
    if (type !== resourceType) {
      throw invalidParameterValue(
        `'${type ?? ''}' is not a valid taggable resource type for this operation.`,
      );
    }
    for (const { key, value } of params.tags(`TagSpecification.${i}.Tag`)) tags[key] = value ?? '';
  }
  return tags;
}
