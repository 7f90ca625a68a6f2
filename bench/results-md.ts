/**
 * bench/RESULTS.md and the table printed on stdout, from the figures of one run. Formatting only:
 * every number comes from bench/figures.ts.
 */
import type { AddBurstResult } from './agent-add-burst.js';
import type { CniLatencyResult } from './cni-latency.js';
import type { BenchResults, BurstFigures, ClusterFigures, Target } from './figures.js';
import type { Summary } from './stats.js';

/** A GitHub table laid out as prettier lays it out (padded columns), so `prettier --check` passes. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const escaped = [headers, ...rows].map((r) => headers.map((_, i) => (r[i] ?? '').replace(/\|/g, '\\|')));
  const widths = headers.map((_, i) => Math.max(3, ...escaped.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 3)).join(' | ')} |`;
  const [head = [], ...body] = escaped;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** Plain columns for a terminal. */
export function textTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The CNI executions measured, in the order the tables show them; the agent's side last. */
function cniRows(c: CniLatencyResult | undefined, burst: AddBurstResult | undefined): [string, Summary][] {
  return [
    ...(c === undefined
      ? []
      : ([
          ['plugin ADD (node dist/cni/main.js)', c.add],
          ['plugin DEL (node dist/cni/main.js)', c.del],
          ['plugin VERSION (start-up only, no socket)', c.version],
          ...c.executables.flatMap((e): [string, Summary][] => [
            [`${e.label}${e.shipped ? ' (shipped)' : ''} ADD`, e.add],
            [`${e.label}${e.shipped ? ' (shipped)' : ''} DEL`, e.del],
          ]),
          ["node -e '' (bare start-up)", c.bareNode],
        ] as [string, Summary][])),
    ...(burst === undefined
      ? []
      : ([
          [
            `agent side, in the agent: ADD, ${burst.burst} at once (socket in to socket out)`,
            burst.agentSide.add,
          ],
          [`agent side, in the agent: DEL, ${burst.burst} at once`, burst.agentSide.del],
          [`agent side, in the agent: ADD, one at a time`, burst.agentSide.alone],
          [`agent side, by the client: ADD, ${burst.burst} at once (connect to answer)`, burst.add],
          [`agent side, by the client: DEL, ${burst.burst} at once`, burst.del],
          [`agent side, by the client: ADD, one at a time`, burst.alone],
          [`floor, by the client: ${burst.burst} ADDs at once to a backend that does nothing`, burst.floor],
        ] as [string, Summary][])),
  ];
}

/** Milliseconds with the precision a figure needs: sub-millisecond ones keep two decimals. */
const fineMs = (n: number): string => (n < 10 ? `${n.toFixed(2)} ms` : `${Math.round(n)} ms`);

function footprintRows(r: BenchResults): string[][] {
  return r.footprint.map((f) =>
    f.failed !== undefined
      ? [
          f.program.label,
          `${f.instanceType}, ${f.pods} pods`,
          `did not start: ${f.failed}`,
          '',
          '',
          '',
          '',
          '',
        ]
      : [
          f.program.label,
          `${f.instanceType}, ${f.addresses} held / ${f.assigned} assigned`,
          `${f.idle.rssEndMb.toFixed(1)} MB (${f.idle.rssMaxMb.toFixed(1)})`,
          `${f.idle.cpuPercent.toFixed(2)} %`,
          `${f.loaded.rssEndMb.toFixed(1)} MB (${f.loaded.rssMaxMb.toFixed(1)})`,
          `${f.loaded.cpuPercent.toFixed(2)} %`,
          `${(f.startup.servedMs / 1000).toFixed(2)} s`,
          f.startup.metricSeconds === undefined ? 'absent' : `${f.startup.metricSeconds.toFixed(2)} s`,
        ],
  );
}

const FOOTPRINT_HEADERS = [
  'agent process',
  'node',
  'idle RSS end (max)',
  'idle CPU',
  'loaded RSS end (max)',
  'loaded CPU',
  'restart: spawn to serving',
  'awscni_ipamd_startup_duration_seconds',
];

const ms = (n: number): string => `${Math.round(n)} ms`;
const x = (n: number | undefined): string => (n === undefined ? 'n/a' : `${n.toFixed(2)} x`);
const s = (n: number | undefined): string => (n === undefined ? 'never' : `${n.toFixed(1)} s`);

function burstRows(figures: readonly BurstFigures[], chainMs: number | undefined): string[][] {
  return figures.map((f) => [
    f.label,
    `${f.gotAddress}/${f.requested}`,
    ms(f.p50Ms),
    ms(f.p99Ms),
    ms(f.maxMs),
    ...(chainMs === undefined ? [] : [x(f.p99Ms / chainMs)]),
    String(f.failedAdds),
    String(f.enisAdded),
    f.mutatingCallsPerEni === undefined ? 'n/a' : f.mutatingCallsPerEni.toFixed(2),
    String(f.throttled),
  ]);
}

const BURST_HEADERS = [
  'IPAM',
  'addressed',
  'p50',
  'p99',
  'max',
  'p99 / chain',
  'failed ADDs',
  'ENIs added',
  'mutating calls / ENI',
  'throttled',
];
const SEED_HEADERS = BURST_HEADERS.filter((h) => h !== 'p99 / chain');

function clusterRows(figures: readonly ClusterFigures[], minimumSeconds: number): string[][] {
  return figures.map((f) => [
    f.label,
    s(f.allWarmSeconds),
    f.allWarmSeconds === undefined ? 'n/a' : x(f.allWarmSeconds / minimumSeconds),
    s(f.medianWarmSeconds),
    String(f.requestLimitExceeded),
    String(f.attachCalls),
    String(f.describeCalls),
    `${f.busiestBucket.api} (${f.busiestBucket.calls} calls: >= ${f.busiestBucket.minimumSeconds.toFixed(0)} s)`,
  ]);
}

const CLUSTER_HEADERS = [
  'budget',
  'all nodes warm',
  'vs minimum',
  'median node',
  'RequestLimitExceeded',
  'Attach calls',
  'Describe calls',
  'slowest bucket for the calls made',
];

function targetRows(targets: readonly Target[]): string[][] {
  return targets.map((t) => [t.met ? 'met' : 'MISSED', t.what, t.detail]);
}

/** What `npm run bench` prints. */
export function consoleSummary(r: BenchResults): string {
  const parts: string[] = [];
  parts.push(`physical chain (Create + Attach + visibility): ${r.chainMs} ms`);
  if (r.burst)
    parts.push(
      `\n1-2. burst: 200 pods at once on an m5.4xlarge\n${textTable(BURST_HEADERS, burstRows([r.burst.ours, r.burst.baseline, ...r.burst.diagnostics], r.chainMs))}`,
    );
  if (r.seed)
    parts.push(
      `\n2. seed: ${r.seed.pods} pods at once on an m5.large, WARM_ENI_TARGET=1\n${textTable(SEED_HEADERS, burstRows([r.seed.ours, r.seed.baseline], undefined))}`,
    );
  if (r.cni || r.addBurst) {
    const c = r.cni;
    parts.push(
      `\n3. CNI plugin, ${c ? `${c.pairs} sequential ADD+DEL pairs` : 'agent side only'}\n${textTable(
        ['exec', 'p50', 'p99', 'max'],
        [...cniRows(c, r.addBurst).map(([name, v]) => [name, fineMs(v.p50), fineMs(v.p99), fineMs(v.max)])],
      )}`,
    );
  }
  if (r.footprint.length > 0) {
    parts.push(`\n4. footprint\n${textTable(FOOTPRINT_HEADERS, footprintRows(r))}`);
  }
  if (r.churn) {
    const c = r.churn;
    parts.push(
      `\n4b. churn: ${c.pairs} ADD+DEL pairs in ${c.wallSeconds.toFixed(0)} s, RSS ${c.startRssMb.toFixed(1)} -> ${c.endRssMb.toFixed(1)} MB (${c.growthPercent.toFixed(1)} %)`,
    );
  }
  if (r.cluster) {
    parts.push(
      `\n5. cluster: ${r.cluster.shared.nodes} nodes, bucket-limited minimum ${r.cluster.minimumSeconds.toFixed(1)} s\n${textTable(CLUSTER_HEADERS, clusterRows([r.cluster.perNode, r.cluster.shared], r.cluster.minimumSeconds))}`,
    );
  }
  parts.push(`\ntargets\n${textTable(['', 'target', 'measured'], targetRows(r.targets))}`);
  parts.push(`\n${r.totalWallSeconds.toFixed(0)} s of wall time`);
  return `${parts.join('\n')}\n`;
}

export function resultsMarkdown(r: BenchResults, notes: string): string {
  const out: string[] = [];
  out.push('# Benchmark results (`npm run bench`)');
  out.push('');
  out.push(
    `Generated by \`npm run bench\` on ${r.startedAt} (${r.machine}); ${r.totalWallSeconds.toFixed(0)} s of wall time. ` +
      'Do not edit: run it again. How to read it: [docs/benchmarks.md](../docs/benchmarks.md).',
  );
  out.push('');
  out.push('## Targets (issues 8 and 16)');
  out.push('');
  out.push(markdownTable(['', 'target', 'measured'], targetRows(r.targets)));
  out.push('');
  if (r.burst) {
    out.push('## 1-2. Burst: 200 pods at once on an m5.4xlarge');
    out.push('');
    out.push(
      `Default settings (WARM_ENI_TARGET=1), EC2 latencies of the README example (CreateNetworkInterface 400 ms, AttachNetworkInterface 2000 ms, AssignPrivateIpAddresses 300 ms, others 100 ms, visibility 1000 ms), EC2 throttling on, simulated time. ` +
        `Physical chain (CreateNetworkInterface + AttachNetworkInterface + visibility): **${r.chainMs} ms**. ` +
        "Time to address: from a pod's first ADD to the ADD that succeeded. Mutating calls per ENI: every mutating EC2 request from the burst on, divided by the ENIs added.",
    );
    out.push('');
    out.push(
      markdownTable(
        BURST_HEADERS,
        burstRows([r.burst.ours, r.burst.baseline, ...r.burst.diagnostics], r.chainMs),
      ),
    );
    out.push('');
  }
  if (r.seed) {
    out.push(`## 2. Seed scenario: ${r.seed.pods} pods at once on an m5.large, WARM_ENI_TARGET=1`);
    out.push('');
    out.push(markdownTable(SEED_HEADERS, burstRows([r.seed.ours, r.seed.baseline], undefined)));
    out.push('');
  }
  if (r.cni || r.addBurst) {
    const c = r.cni;
    out.push(
      c
        ? `## 3. CNI plugin latency: ${c.pairs} sequential ADD + DEL pairs`
        : '## 3. CNI latency: the agent side alone',
    );
    out.push('');
    out.push(
      "Each call is an execution of `node dist/cni/main.js`, and of the single executables built by scripts/build-cni-plugin.ts (with V8's code cache, which ships, and with a start-up snapshot), against a real agent process (warm pool, simulated EC2 over HTTP), interleaved with a bare `node -e ''` so all see the same load. The last rows are the agent's side alone, without a process start (see the notes).",
    );
    out.push('');
    out.push(
      markdownTable(
        ['execution', 'n', 'p50', 'p99', 'max', 'mean'],
        cniRows(c, r.addBurst).map(([name, v]) => [
          name,
          String(v.n),
          fineMs(v.p50),
          fineMs(v.p99),
          fineMs(v.max),
          fineMs(v.mean),
        ]),
      ),
    );
    out.push('');
  }
  if (r.footprint.length > 0 || r.moduleLoads.length > 0) {
    out.push('## 4. Footprint of the agent process');
    out.push('');
    out.push(
      'A real agent process on the HTTP simulator, sampled from /proc: RSS (VmRSS) every 0.5 s and CPU time over a 10 s window, at idle (20 s after the pool is warm) and after the pods got their addresses; then restarted on its checkpoint. Each way of running it is measured on its own, one setting added at a time, down to the way the image runs it:',
    );
    out.push('');
    const commands = [...new Map(r.footprint.map((f) => [f.program.label, f.program.command])).entries()];
    for (const [label, command] of commands) out.push(`- ${label}: \`${command}\``);
    out.push('');
    out.push(markdownTable(FOOTPRINT_HEADERS, footprintRows(r)));
    out.push('');
    out.push('What dominates: the RSS of a fresh node process right after importing only this:');
    out.push('');
    out.push(
      markdownTable(
        ['import', 'RSS'],
        r.moduleLoads.map((m) => [m.what, `${m.rssMb.toFixed(0)} MB`]),
      ),
    );
    out.push('');
  }
  if (r.churn) {
    const c = r.churn;
    out.push(`## 4b. A day of churn: ${c.pairs} pod ADD + DEL pairs on the shipped agent`);
    out.push('');
    out.push(
      markdownTable(
        [
          'pairs',
          'wall time',
          'failed calls',
          'resync Describes',
          'watch restarts',
          'RSS at start',
          'RSS at end',
          'growth',
        ],
        [
          [
            `${c.pairs} / ${c.pairsRequested}`,
            `${c.wallSeconds.toFixed(0)} s`,
            String(c.failedCalls),
            String(c.resyncs),
            String(c.watchRestarts),
            `${c.startRssMb.toFixed(1)} MB`,
            `${c.endRssMb.toFixed(1)} MB`,
            `${c.growthPercent.toFixed(1)} %`,
          ],
        ],
      ),
    );
    out.push('');
  }
  if (r.cluster) {
    const c = r.cluster;
    out.push(`## 5. Cluster scale: ${c.shared.nodes} nodes starting at once, two ENIs each`);
    out.push('');
    out.push(
      `Bucket-limited minimum: ${c.shared.nodes} AttachNetworkInterface calls, 50 at once, then 5 per second: **${c.minimumSeconds.toFixed(1)} s**. ` +
        '"Slowest bucket" is, for the calls the run actually made, the account bucket that needs longest to pass them even perfectly paced.',
    );
    out.push('');
    out.push(markdownTable(CLUSTER_HEADERS, clusterRows([c.perNode, c.shared], c.minimumSeconds)));
    out.push('');
  }
  if (r.charts.length > 0) {
    out.push('## Charts');
    out.push('');
    for (const chart of r.charts) out.push(`![${chart.title}](${chart.file})`, '');
  }
  if (notes.trim() !== '') {
    out.push('## Notes');
    out.push('');
    out.push(notes.trim());
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}
