/**
 * The difference between what the kernel holds (as `ip -json` shows it) and what the agent wants,
 * as `ip -batch` lines: additions first, removals last, so traffic that matches a kept rule is
 * never left without one in between. Pure: parsing and planning are tested with tables.
 */
import {
  FIRST_ENI_TABLE,
  LAST_ENI_TABLE,
  OWNED_RULE_PRIORITIES,
  ruleKey,
  type DesiredState,
  type LinkSpec,
  type RouteSpec,
  type RuleSpec,
} from './model.js';

export interface ObservedLink {
  readonly ifname: string;
  readonly mac: string;
  readonly mtu: number;
  readonly up: boolean;
  /** IPv4 addresses as CIDRs. */
  readonly addresses: readonly string[];
}

export interface ObservedRoute {
  readonly table: number | string;
  readonly dst: string;
  readonly dev: string | undefined;
  readonly gateway: string | undefined;
}

export interface ObservedKernel {
  readonly links: readonly ObservedLink[];
  readonly rules: readonly RuleSpec[];
  readonly routes: readonly ObservedRoute[];
}

export interface KernelPlan {
  /** Lines for `ip -force -batch -`. */
  readonly lines: readonly string[];
  readonly problems: readonly string[];
}

interface AddrJson {
  ifname?: string;
  address?: string;
  mtu?: number;
  flags?: string[];
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

interface RuleJson {
  priority?: number;
  src?: string;
  srclen?: number;
  dst?: string;
  dstlen?: number;
  fwmark?: string;
  fwmask?: string;
  table?: string;
}

interface RouteJson {
  dst?: string;
  dev?: string;
  gateway?: string;
  table?: string;
  type?: string;
}

export function parseLinks(json: unknown): ObservedLink[] {
  return asArray<AddrJson>(json).flatMap((link) =>
    link.ifname === undefined || link.address === undefined
      ? []
      : [
          {
            ifname: link.ifname,
            mac: link.address.toLowerCase(),
            mtu: link.mtu ?? 0,
            up: (link.flags ?? []).includes('UP'),
            addresses: (link.addr_info ?? [])
              .filter((a) => a.family === 'inet' && a.local !== undefined)
              .map((a) => `${a.local}/${a.prefixlen ?? 32}`),
          },
        ],
  );
}

export function parseRules(json: unknown): RuleSpec[] {
  return asArray<RuleJson>(json).flatMap((rule) => {
    if (rule.priority === undefined || rule.table === undefined) return [];
    const table = rule.table === 'main' ? 'main' : Number(rule.table);
    if (table !== 'main' && !Number.isInteger(table)) return [];
    const src = rule.src === undefined || rule.src === 'all' ? undefined : `${rule.src}/${rule.srclen ?? 32}`;
    const dst = rule.dst === undefined || rule.dst === 'all' ? undefined : `${rule.dst}/${rule.dstlen ?? 32}`;
    const fwmark =
      rule.fwmark === undefined
        ? undefined
        : { value: Number(rule.fwmark), mask: rule.fwmask === undefined ? 0xffffffff : Number(rule.fwmask) };
    return [
      {
        priority: rule.priority,
        ...(src === undefined ? {} : { src }),
        ...(dst === undefined ? {} : { dst }),
        ...(fwmark === undefined ? {} : { fwmark }),
        table,
      },
    ];
  });
}

export function parseRoutes(json: unknown): ObservedRoute[] {
  return asArray<RouteJson>(json).flatMap((route) =>
    route.dst === undefined || (route.type !== undefined && route.type !== 'unicast')
      ? []
      : [
          {
            table:
              route.table === undefined
                ? 'main'
                : /^\d+$/.test(route.table)
                  ? Number(route.table)
                  : route.table,
            dst: route.dst,
            dev: route.dev,
            gateway: route.gateway,
          },
        ],
  );
}

/** `ip -json -batch` prints one JSON document per command, one after the other. */
export function splitJsonDocuments(text: string): unknown[] {
  const docs: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0 && start >= 0) {
        docs.push(JSON.parse(text.slice(start, i + 1)));
        start = -1;
      }
    }
  }
  return docs;
}

export function isOwnedRule(rule: RuleSpec): boolean {
  return OWNED_RULE_PRIORITIES.includes(rule.priority);
}

export function isOwnedTable(table: number | string): table is number {
  return typeof table === 'number' && table >= FIRST_ENI_TABLE && table <= LAST_ENI_TABLE;
}

export function ruleLine(verb: 'add' | 'del', rule: RuleSpec): string {
  const parts = ['rule', verb];
  if (rule.src !== undefined) parts.push('from', rule.src);
  if (rule.dst !== undefined) parts.push('to', rule.dst);
  if (rule.fwmark)
    parts.push('fwmark', `0x${rule.fwmark.value.toString(16)}/0x${rule.fwmark.mask.toString(16)}`);
  parts.push('lookup', String(rule.table), 'priority', String(rule.priority));
  return parts.join(' ');
}

/** Rules to add (missing) and to delete (owned, not wanted) for the whole rule set. */
export function planRules(wanted: readonly RuleSpec[], observed: readonly RuleSpec[]): string[] {
  const have = new Set(observed.map(ruleKey));
  const want = new Set(wanted.map(ruleKey));
  const adds = uniqueBy(wanted, ruleKey).filter((r) => !have.has(ruleKey(r)));
  const dels = observed.filter((r) => isOwnedRule(r) && !want.has(ruleKey(r)));
  return [...adds.map((r) => ruleLine('add', r)), ...dels.map((r) => ruleLine('del', r))];
}

/**
 * Rules for some pods only: their wanted rules are added, and owned rules that name one of their
 * addresses but are not wanted (the address moved to another ENI) are deleted. Rules of other
 * pods are left alone.
 */
export function planPodRules(
  pods: readonly { readonly address: string; readonly rules: readonly RuleSpec[] }[],
  observed: readonly RuleSpec[],
): string[] {
  const addresses = new Set(pods.map((p) => `${p.address}/32`));
  const wanted = pods.flatMap((p) => p.rules);
  const scoped = observed.filter(
    (r) => (r.src !== undefined && addresses.has(r.src)) || (r.dst !== undefined && addresses.has(r.dst)),
  );
  const have = new Set(observed.map(ruleKey));
  const want = new Set(wanted.map(ruleKey));
  const adds = uniqueBy(wanted, ruleKey).filter((r) => !have.has(ruleKey(r)));
  const dels = scoped.filter((r) => isOwnedRule(r) && !want.has(ruleKey(r)));
  return [...adds.map((r) => ruleLine('add', r)), ...dels.map((r) => ruleLine('del', r))];
}

/** Everything: links, addresses, routes in the agent's tables, rules. */
export function planKernel(desired: DesiredState, observed: ObservedKernel): KernelPlan {
  const links = planLinks(desired.links, observed);
  const routes = planRoutes(desired.routes, observed);
  const rules = planRules(desired.rules, observed.rules);
  const ruleAdds = rules.filter((l) => l.startsWith('rule add'));
  const ruleDels = rules.filter((l) => l.startsWith('rule del'));
  return {
    lines: [...links.lines, ...routes.adds, ...ruleAdds, ...ruleDels, ...routes.dels],
    problems: links.problems,
  };
}

/** Links found by MAC: MTU, up, addresses. A link not found is a problem, not an error. */
export function planLinks(links: readonly LinkSpec[], observed: ObservedKernel): KernelPlan {
  const byMac = new Map(observed.links.map((l) => [l.mac, l]));
  const lines: string[] = [];
  const problems: string[] = [];
  for (const link of links) {
    const found = byMac.get(link.mac);
    if (found) lines.push(...planLink(link, found));
    else problems.push(`no link has MAC ${link.mac} (the ENI's device has not appeared yet)`);
  }
  return { lines, problems };
}

/**
 * Routes of the agent's tables: wanted ones replaced in when missing; others removed, unless a
 * wanted route of the same table and destination replaces them in place. `tables` limits the
 * removals to those tables (setting up one ENI leaves the others alone).
 */
export function planRoutes(
  routes: readonly RouteSpec[],
  observed: ObservedKernel,
  tables?: ReadonlySet<number>,
): { adds: string[]; dels: string[] } {
  const devOf = new Map(observed.links.map((l) => [l.mac, l.ifname]));
  const wanted = new Map<string, RouteSpec & { dev: string }>();
  for (const route of routes) {
    const dev = devOf.get(route.mac);
    if (dev === undefined) continue;
    wanted.set(observedRouteKey({ table: route.table, dst: route.dst, dev, gateway: route.gateway }), {
      ...route,
      dev,
    });
  }
  const inScope = (table: number | string): table is number =>
    isOwnedTable(table) && (tables === undefined || tables.has(table));
  const have = new Set(observed.routes.filter((r) => inScope(r.table)).map(observedRouteKey));
  const adds = [...wanted].filter(([key]) => !have.has(key)).map(([, route]) => routeLine('replace', route));
  const dels: string[] = [];
  for (const route of observed.routes) {
    if (!inScope(route.table) || wanted.has(observedRouteKey(route))) continue;
    const replaced = [...wanted.values()].some((w) => w.table === route.table && w.dst === route.dst);
    if (!replaced) dels.push(`route del ${route.dst} table ${route.table}`);
  }
  return { adds, dels };
}

function planLink(link: LinkSpec, found: ObservedLink): string[] {
  const lines: string[] = [];
  if (found.mtu !== link.mtu) lines.push(`link set dev ${found.ifname} mtu ${link.mtu}`);
  if (!found.up) lines.push(`link set dev ${found.ifname} up`);
  for (const address of link.addresses) {
    if (!found.addresses.includes(address)) lines.push(`addr replace ${address} dev ${found.ifname}`);
  }
  return lines;
}

function routeLine(verb: 'replace', route: RouteSpec & { dev: string }): string {
  const via = route.gateway === undefined ? ' scope link' : ` via ${route.gateway} onlink`;
  return `route ${verb} ${route.dst}${via} dev ${route.dev} table ${route.table}`;
}

function observedRouteKey(route: {
  table: number | string;
  dst: string;
  dev: string | undefined;
  gateway: string | undefined;
}): string {
  return `${route.table}|${route.dst}|${route.dev ?? ''}|${route.gateway ?? ''}`;
}

function uniqueBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const k = key(item);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function asArray<T>(json: unknown): T[] {
  return Array.isArray(json) ? (json as T[]) : [];
}
