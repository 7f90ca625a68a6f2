/**
 * The datapath on a real kernel: iproute2 and nftables, the tools every distribution keeps. One
 * `ip -json -batch` reads links, rules and routes; one `ip -force -batch` writes every change; one
 * `nft -f` replaces the agent's table. The work of a whole burst of pods is therefore a handful of
 * processes, never one or two per pod.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnCommand, type CommandRunner } from './command.js';
import {
  planKernel,
  planLinks,
  planPodRules,
  planRoutes,
  parseLinks,
  parseRoutes,
  parseRules,
  ruleLine,
  isOwnedRule,
  splitJsonDocuments,
  type ObservedKernel,
  type ObservedLink,
} from './kernel-plan.js';
import {
  NAT_TABLE,
  RP_FILTER_LOOSE,
  type Datapath,
  type DesiredState,
  type LinkSpec,
  type NatPlan,
  type ReconcileReport,
  type RouteSpec,
  type RuleSpec,
} from './model.js';
import { natTableScript } from './nat-table.js';

export interface KernelDatapathOptions {
  /** Default: spawn the real tools. */
  run?: CommandRunner;
  ip?: string;
  nft?: string;
  /** Default /proc/sys: the network namespace of the agent's process. */
  sysctlDir?: string;
}

/** The tools failed in a way the caller must hear about (not "a link is missing"). */
export class DatapathCommandError extends Error {
  override readonly name = 'DatapathCommandError';
  readonly code = 'datapath-command' as const;
}

export class KernelDatapath implements Datapath {
  private readonly run: CommandRunner;
  private readonly ip: string;
  private readonly nft: string;
  private readonly sysctlDir: string;
  private processes = 0;

  constructor(options: KernelDatapathOptions = {}) {
    this.run = options.run ?? spawnCommand;
    this.ip = options.ip ?? 'ip';
    this.nft = options.nft ?? 'nft';
    this.sysctlDir = options.sysctlDir ?? '/proc/sys';
  }

  /** Processes started since construction. */
  processCount(): number {
    return this.processes;
  }

  async observe(): Promise<ObservedKernel> {
    const out = await this.exec(
      this.ip,
      ['-json', '-batch', '-'],
      'addr show\nrule show\nroute show table all\n',
    );
    if (out.code !== 0) throw new DatapathCommandError(`ip -json -batch (read) failed: ${out.stderr.trim()}`);
    const [links, rules, routes] = splitJsonDocuments(out.stdout);
    return { links: parseLinks(links), rules: parseRules(rules), routes: parseRoutes(routes) };
  }

  async reconcile(desired: DesiredState): Promise<ReconcileReport> {
    const before = this.processes;
    const observed = await this.observe();
    const plan = planKernel(desired, observed);
    const problems = [...plan.problems];
    problems.push(...(await this.batch(plan.lines)));
    const primary = observed.links.find((l) => l.mac === desired.nat.primaryMac);
    let changes = plan.lines.length;
    if (primary) {
      changes += await this.sysctls(primary);
      const nat = await this.replaceNat(desired.nat, primary.ifname);
      changes += nat.changed ? 1 : 0;
      problems.push(...nat.problems);
    } else {
      problems.push(
        `no link has the primary ENI's MAC ${desired.nat.primaryMac}: SNAT and NodePort rules not written`,
      );
    }
    return { changes, problems, processes: this.processes - before };
  }

  async setupEni(link: LinkSpec, routes: readonly RouteSpec[]): Promise<ReconcileReport> {
    const before = this.processes;
    const observed = await this.observe();
    // Only this ENI: its link, and its table's routes (other tables untouched).
    const links = planLinks([link], observed);
    const routePlan = planRoutes(routes, observed, new Set(routes.map((r) => r.table)));
    const lines = [...links.lines, ...routePlan.adds, ...routePlan.dels];
    const problems = [...links.problems, ...(await this.batch(lines))];
    const found = observed.links.find((l) => l.mac === link.mac);
    if (found && link.primary) await this.sysctls(found);
    return { changes: lines.length, problems, processes: this.processes - before };
  }

  async removeEni(table: number): Promise<ReconcileReport> {
    const before = this.processes;
    const observed = await this.observe();
    const lines = [
      ...observed.rules.filter((r) => isOwnedRule(r) && r.table === table).map((r) => ruleLine('del', r)),
      ...observed.routes.filter((r) => r.table === table).map((r) => `route del ${r.dst} table ${table}`),
    ];
    const problems = await this.batch(lines);
    return { changes: lines.length, problems, processes: this.processes - before };
  }

  async addPodRules(
    pods: readonly { readonly address: string; readonly rules: readonly RuleSpec[] }[],
  ): Promise<ReconcileReport> {
    const before = this.processes;
    const lines = planPodRules(pods, await this.observeRules());
    const problems = await this.batch(lines);
    return { changes: lines.length, problems, processes: this.processes - before };
  }

  async removePodRules(addresses: readonly string[]): Promise<ReconcileReport> {
    return this.addPodRules(addresses.map((address) => ({ address, rules: [] })));
  }

  async syncNat(nat: NatPlan): Promise<ReconcileReport> {
    const before = this.processes;
    const links = await this.observeLinks();
    const primary = links.find((l) => l.mac === nat.primaryMac);
    if (!primary) {
      return {
        changes: 0,
        problems: [`no link has the primary ENI's MAC ${nat.primaryMac}`],
        processes: this.processes - before,
      };
    }
    const result = await this.replaceNat(nat, primary.ifname);
    return { changes: result.changed ? 1 : 0, problems: result.problems, processes: this.processes - before };
  }

  private async observeRules(): Promise<RuleSpec[]> {
    const out = await this.exec(this.ip, ['-json', 'rule', 'show']);
    if (out.code !== 0) throw new DatapathCommandError(`ip -json rule show failed: ${out.stderr.trim()}`);
    return parseRules(JSON.parse(out.stdout || '[]'));
  }

  private async observeLinks(): Promise<ObservedLink[]> {
    const out = await this.exec(this.ip, ['-json', 'addr', 'show']);
    if (out.code !== 0) throw new DatapathCommandError(`ip -json addr show failed: ${out.stderr.trim()}`);
    return parseLinks(JSON.parse(out.stdout || '[]'));
  }

  /** Writes the lines in one process; returns the lines the kernel refused, as problems. */
  private async batch(lines: readonly string[]): Promise<string[]> {
    if (lines.length === 0) return [];
    const out = await this.exec(this.ip, ['-force', '-batch', '-'], `${lines.join('\n')}\n`);
    if (out.code === 0) return [];
    return [`ip -batch: ${out.stderr.trim().split('\n').slice(0, 10).join('; ')}`];
  }

  /** The table is replaced only when its hash comment differs from the one wanted. */
  private async replaceNat(
    nat: NatPlan,
    primaryIfname: string,
  ): Promise<{ changed: boolean; problems: string[] }> {
    const { script, hash } = natTableScript(nat, primaryIfname);
    const listed = await this.exec(this.nft, ['-j', 'list', 'table', 'ip', NAT_TABLE]);
    if (listed.code === 0 && tableComment(listed.stdout) === `eni-ipam ${hash}`)
      return { changed: false, problems: [] };
    const out = await this.exec(this.nft, ['-f', '-'], script);
    if (out.code !== 0) return { changed: false, problems: [`nft -f: ${out.stderr.trim()}`] };
    return { changed: true, problems: [] };
  }

  /** Loose rp_filter on the primary interface, forwarding on: written only when they differ. */
  private async sysctls(primary: ObservedLink): Promise<number> {
    let changed = 0;
    const wanted: [string, string][] = [
      [join('net', 'ipv4', 'ip_forward'), '1'],
      [join('net', 'ipv4', 'conf', primary.ifname, 'rp_filter'), String(RP_FILTER_LOOSE)],
    ];
    for (const [path, value] of wanted) {
      const file = join(this.sysctlDir, path);
      const current = (await readFile(file, 'utf8').catch(() => '')).trim();
      if (current === value) continue;
      await writeFile(file, value);
      changed++;
    }
    return changed;
  }

  private async exec(
    command: string,
    args: readonly string[],
    stdin?: string,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    this.processes++;
    return this.run(command, args, stdin);
  }
}

function tableComment(json: string): string | undefined {
  try {
    const parsed = JSON.parse(json) as { nftables?: { table?: { comment?: string } }[] };
    return parsed.nftables?.find((e) => e.table !== undefined)?.table?.comment;
  } catch {
    return undefined;
  }
}
