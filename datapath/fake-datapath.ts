/**
 * An in-memory kernel for unit tests of the agent's wiring: it keeps links, rules, routes and the
 * NAT plan as the real datapath would leave them, and records every call.
 */
import { isOwnedRule, planPodRules, planRules, ruleLine } from './kernel-plan.js';
import {
  routeKey,
  ruleKey,
  type Datapath,
  type DesiredState,
  type LinkSpec,
  type NatPlan,
  type ReconcileReport,
  type RouteSpec,
  type RuleSpec,
} from './model.js';

export class FakeDatapath implements Datapath {
  readonly calls: string[] = [];
  readonly links = new Map<string, LinkSpec>();
  routes: RouteSpec[] = [];
  rules: RuleSpec[] = [];
  nat: NatPlan | undefined;
  /** MACs of links that exist; undefined: every MAC exists. */
  presentMacs: Set<string> | undefined;
  /** Makes the next calls fail, as a missing tool would. */
  failWith: Error | undefined;

  setupEni(link: LinkSpec, routes: readonly RouteSpec[]): Promise<ReconcileReport> {
    return this.call('setupEni', () => {
      if (!this.present(link.mac)) return [`no link has MAC ${link.mac}`];
      this.links.set(link.mac, link);
      const tables = new Set(routes.map((r) => r.table));
      this.routes = [...this.routes.filter((r) => !tables.has(r.table)), ...routes];
      return [];
    });
  }

  removeEni(table: number): Promise<ReconcileReport> {
    return this.call('removeEni', () => {
      this.routes = this.routes.filter((r) => r.table !== table);
      this.rules = this.rules.filter((r) => !(isOwnedRule(r) && r.table === table));
      return [];
    });
  }

  addPodRules(
    pods: readonly { readonly address: string; readonly rules: readonly RuleSpec[] }[],
  ): Promise<ReconcileReport> {
    return this.call('addPodRules', () => {
      this.applyLines(
        planPodRules(pods, this.rules),
        pods.flatMap((p) => p.rules),
      );
      return [];
    });
  }

  removePodRules(addresses: readonly string[]): Promise<ReconcileReport> {
    return this.addPodRules(addresses.map((address) => ({ address, rules: [] })));
  }

  syncNat(nat: NatPlan): Promise<ReconcileReport> {
    return this.call('syncNat', () => {
      this.nat = nat;
      return [];
    });
  }

  reconcile(desired: DesiredState): Promise<ReconcileReport> {
    return this.call('reconcile', () => {
      const problems: string[] = [];
      for (const link of desired.links) {
        if (this.present(link.mac)) this.links.set(link.mac, link);
        else problems.push(`no link has MAC ${link.mac}`);
      }
      this.routes = desired.routes.filter((r) => this.present(r.mac));
      this.applyLines(planRules(desired.rules, this.rules), desired.rules);
      this.nat = desired.nat;
      return problems;
    });
  }

  /** The rules as `ip rule` would list them, sorted by key. */
  ruleKeys(): string[] {
    return this.rules.map(ruleKey).sort();
  }

  routeKeys(): string[] {
    return this.routes.map(routeKey).sort();
  }

  private present(mac: string): boolean {
    return this.presentMacs === undefined || this.presentMacs.has(mac);
  }

  /** Applies planned `rule add/del` lines, the wanted specs giving the rules added. */
  private applyLines(lines: readonly string[], wanted: readonly RuleSpec[]): void {
    const byLine = new Map(wanted.map((r) => [ruleKey(r), r]));
    for (const line of lines) {
      const [, verb] = line.split(' ');
      const match = [...byLine.values(), ...this.rules].find(
        (r) => ruleLine(verb === 'add' ? 'add' : 'del', r) === line,
      );
      if (!match) continue;
      if (verb === 'add') this.rules.push(match);
      else this.rules = this.rules.filter((r) => ruleKey(r) !== ruleKey(match));
    }
  }

  private async call(name: string, work: () => string[]): Promise<ReconcileReport> {
    this.calls.push(name);
    await Promise.resolve();
    if (this.failWith) throw this.failWith;
    const problems = work();
    return { changes: 0, problems, processes: 0 };
  }
}
