/**
 * The agent's one nftables table, rendered as an `nft -f` script that replaces it in a single
 * transaction (the kernel applies the whole file or none of it), so no packet ever sees half a
 * ruleset. Pure: the interface name of the primary ENI is resolved by the caller.
 */
import { createHash } from 'node:crypto';
import { NAT_TABLE, type NatPlan } from './model.js';

const RANDOMIZE_FLAG = { none: '', hashrandom: ' random', prng: ' fully-random' } as const;

/** The table's body (chains and rules), without the comment that carries its hash. */
export function natTableBody(plan: NatPlan, primaryIfname: string): string {
  const mark = `0x${plan.connmark.toString(16)}`;
  const lines = [
    // Mangle priority: before portmap's DNAT (the destination is still the node's own address)
    // and before the routing decision (the restored mark chooses the table).
    '  chain prerouting {',
    '    type filter hook prerouting priority mangle; policy accept;',
    `    iifname ${quote(primaryIfname)} fib daddr type local ct state new ct mark set ct mark or ${mark}`,
    `    iifname != ${quote(primaryIfname)} ct mark and ${mark} == ${mark} meta mark set meta mark or ${mark}`,
    '  }',
  ];
  if (plan.snat) {
    lines.push(
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      `    ip daddr != { ${plan.noSnatCidrs.join(', ')} } fib daddr type != local snat ip to ${plan.primaryIp}${RANDOMIZE_FLAG[plan.randomize]}`,
      '  }',
    );
  }
  return lines.join('\n');
}

/** A short hash of the body: kept as the table's comment, so a reconcile can tell whether it matches. */
export function natTableHash(body: string): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 16);
}

/** The whole transaction: create-if-missing, delete, create with the new content. */
export function natTableScript(plan: NatPlan, primaryIfname: string): { script: string; hash: string } {
  const body = natTableBody(plan, primaryIfname);
  const hash = natTableHash(body);
  const script = [
    `table ip ${NAT_TABLE} {}`,
    `delete table ip ${NAT_TABLE}`,
    `table ip ${NAT_TABLE} {`,
    `  comment "eni-ipam ${hash}"`,
    body,
    '}',
    '',
  ].join('\n');
  return { script, hash };
}

function quote(name: string): string {
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(name)) throw new Error(`"${name}" is not an interface name`);
  return `"${name}"`;
}
