import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MANAGED_TAG, MANAGED_TAG_VALUE } from '../../provider/eni-tags.js';
import { EC2_APIS } from '../../provider/rate-limits.js';

const root = join(import.meta.dirname, '..', '..');

interface Statement {
  Sid: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string>>;
}

const policy = JSON.parse(readFileSync(join(root, 'deploy', 'iam-policy.json'), 'utf8')) as {
  Statement: Statement[];
};
const actions = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** Every `new XxxCommand(` in provider/'s EC2 files: the EC2 actions the code can send. */
function commandsSent(): string[] {
  const sent = new Set<string>();
  for (const file of readdirSync(join(root, 'provider')).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(join(root, 'provider', file), 'utf8');
    if (!source.includes('@aws-sdk/client-ec2')) continue;
    for (const match of source.matchAll(/new\s+(\w+)Command\s*\(/g)) sent.add(match[1]!);
  }
  return [...sent].sort();
}

describe('deploy/iam-policy.json', () => {
  it('allows exactly the EC2 actions provider/ sends', () => {
    const allowed = [...new Set(policy.Statement.flatMap(actions))]
      .filter((a) => a !== 'ec2:CreateTags')
      .map((a) => a.replace(/^ec2:/, ''))
      .sort();
    const sent = commandsSent();
    expect(sent.length).toBeGreaterThan(5);
    expect(allowed).toEqual(sent);
  });

  it('allows deleting and detaching only ENIs carrying the tag eni-ipam puts on its own', () => {
    const tag = { StringEquals: { [`aws:ResourceTag/${MANAGED_TAG}`]: MANAGED_TAG_VALUE } };
    for (const action of ['ec2:DeleteNetworkInterface', 'ec2:DetachNetworkInterface']) {
      const granting = policy.Statement.filter((s) => actions(s).includes(action));
      expect(granting.length, action).toBeGreaterThan(0);
      for (const s of granting) {
        const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
        // Never "*": every network interface a statement grants is one of ours.
        expect(resources, `${action} in ${s.Sid}`).not.toContain('*');
        if (resources.some((r) => r.includes(':network-interface/')))
          expect(s.Condition, `${action} in ${s.Sid}`).toEqual(tag);
        // Detach also names the instance (it carries no tag of ours): that resource alone may be unconditioned.
        else
          expect(
            resources.every((r) => /:instance\/\*$/.test(r)) && action === 'ec2:DetachNetworkInterface',
          ).toBe(true);
      }
    }
    // ENIs eni-ipam creates carry the tag from the moment they exist (tag-on-create).
    const createTags = policy.Statement.find((s) => actions(s).includes('ec2:CreateTags'));
    expect(createTags?.Condition).toEqual({ StringEquals: { 'ec2:CreateAction': 'CreateNetworkInterface' } });
  });

  it('lists the same actions as the rate limiter knows', () => {
    expect(commandsSent()).toEqual([...EC2_APIS].sort());
  });

  it('allows CreateTags only as part of CreateNetworkInterface (tags in TagSpecifications need it)', () => {
    const tagging = policy.Statement.filter((s) => actions(s).includes('ec2:CreateTags'));
    expect(tagging).toHaveLength(1);
    expect(tagging[0]!.Condition).toEqual({ StringEquals: { 'ec2:CreateAction': 'CreateNetworkInterface' } });
    expect(policy.Statement.every((s) => s.Effect === 'Allow')).toBe(true);
    expect(policy.Statement.flatMap(actions).every((a) => a.startsWith('ec2:'))).toBe(true);
  });
});
