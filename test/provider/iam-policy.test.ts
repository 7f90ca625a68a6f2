import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EC2_APIS } from '../../provider/rate-limits.js';

const root = join(import.meta.dirname, '..', '..');

interface Statement {
  Sid: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string>>;
}

const policy = JSON.parse(readFileSync(join(root, 'deploy', 'iam-policy.json'), 'utf8')) as { Statement: Statement[] };
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
    const calls = policy.Statement.find((s) => s.Sid === 'EniIpamEc2Calls')!;
    const allowed = actions(calls).map((a) => a.replace(/^ec2:/, '')).sort();
    const sent = commandsSent();
    expect(sent.length).toBeGreaterThan(5);
    expect(allowed).toEqual(sent);
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
