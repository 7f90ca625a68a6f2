import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../agent/config-table.js';
import { ignoredVpcCniVariables, VPC_CNI_VARIABLES } from '../../agent/vpc-cni-variables.js';

describe('VPC CNI variables eni-ipam does not implement', () => {
  it('names every one that is set, and none that eni-ipam reads', () => {
    const env = {
      ENABLE_POD_ENI: 'true',
      ENABLE_IPv6: 'false',
      AWS_VPC_ENI_MTU: '9001',
      AWS_VPC_K8S_CNI_VETHPREFIX: 'eni',
      POD_SECURITY_GROUP_ENFORCING_MODE: '',
      WARM_ENI_TARGET: '2',
      ENI_CONFIG_LABEL_DEF: 'topology.kubernetes.io/zone',
      UNRELATED: 'x',
    };
    expect(ignoredVpcCniVariables(env)).toEqual([
      'AWS_VPC_K8S_CNI_VETHPREFIX',
      'ENABLE_IPv6',
      'ENABLE_POD_ENI',
    ]);
  });

  it("every VPC CNI variable in the config table is one of the VPC CNI's", () => {
    const carried = CONFIG_VARIABLES.filter((v) => v.origin === 'AWS VPC CNI').map((v) => v.name);
    for (const name of carried) expect(VPC_CNI_VARIABLES, name).toContain(name);
  });
});
