import { readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, type ConfigVariable } from '../../agent/config-table.js';
import { loadConfig } from '../../agent/config.js';
import { INTROSPECTION_PATHS } from '../../agent/introspection/introspection-server.js';
import { SUBCOMMANDS } from '../../cli/main.js';
import { PLUGIN_NAME } from '../../scripts/build-cni-plugin.js';
import {
  DEPLOY_DIR,
  REPO_ROOT,
  findObject,
  loadManifests,
  type Container,
  type DaemonSet,
  type EnvVar,
  type HttpProbe,
  type KubeObject,
} from './manifests.js';

const manifests = loadManifests();
const ds = findObject(manifests, 'DaemonSet', 'eni-ipam') as DaemonSet;
const pod = ds.spec.template.spec;
const agent = pod.containers.find((c) => c.name === 'agent')!;
const install = pod.initContainers.find((c) => c.name === 'install-cni')!;

/**
 * The variables the DaemonSet leaves unset on purpose: those without a default (unset means "off",
 * "none" or a value the agent derives), for an overlay to set. Required ones are set (MY_NODE_NAME,
 * from the downward API). The manifest lists them in a comment, which a test keeps true.
 */
/**
 * Values the AWS VPC CNI's Helm chart (charts/aws-vpc-cni/values.yaml) sets although its agent's
 * own default differs (unset WARM_PREFIX_TARGET means 0): the DaemonSet sets them as the chart does.
 */
const CHART_VALUES: Readonly<Record<string, string>> = { WARM_PREFIX_TARGET: '1' };

const DELIBERATELY_UNSET = (CONFIG_VARIABLES as readonly ConfigVariable[])
  .filter((v) => v.default === undefined && v.required !== true && !(v.name in CHART_VALUES))
  .map((v) => v.name);

/** The names in the manifest's "Unset on purpose" comment. */
function unsetNamesInComment(): string[] {
  const text = readFileSync(join(DEPLOY_DIR, 'daemonset.yaml'), 'utf8');
  const start = text.indexOf('# Unset on purpose');
  if (start < 0) return [];
  const lines: string[] = [];
  for (const line of text.slice(start).split('\n')) {
    if (!line.trim().startsWith('#')) break;
    lines.push(line.replace(/^\s*#/, ''));
    if (line.trimEnd().endsWith('.')) break; // the list is one sentence
  }
  // Asides in parentheses ("AWS_REGION (from IMDS)") are not names.
  const listed = lines
    .join(' ')
    .replace(/\([^)]*\)/g, '')
    .split(':')
    .slice(1)
    .join(':');
  return [...listed.matchAll(/\b[A-Z][A-Z0-9_]{2,}\b/g)].map((m) => m[0]);
}

const env: EnvVar[] = agent.env ?? [];
const literalEnv = (): Record<string, string> =>
  Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));

/** Which host path holds `path` as the container sees it, through the container's hostPath mounts. */
function hostPathOf(container: Container, path: string): string | undefined {
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes.find((v) => v.name === mount.name);
    if (!volume?.hostPath) continue;
    const rel = posix.relative(mount.mountPath, path);
    if (!rel.startsWith('..') && !posix.isAbsolute(rel)) return posix.join(volume.hostPath.path, rel);
  }
  return undefined;
}

function probeOf(kind: 'startupProbe' | 'livenessProbe' | 'readinessProbe'): HttpProbe['httpGet'] {
  const probe = agent[kind];
  if (!probe) throw new Error(`the agent container has no ${kind}`);
  return probe.httpGet;
}

describe('deploy/daemonset.yaml', () => {
  it('runs on every node, on the host network, as a node-critical pod', () => {
    expect(ds.metadata.namespace).toBe('kube-system');
    expect(pod.hostNetwork).toBe(true);
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(ds.spec.updateStrategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: '10%' },
    });
  });

  it('selects the pods its template labels', () => {
    const selector = ds.spec.selector.matchLabels;
    expect(Object.keys(selector).length).toBeGreaterThan(0);
    for (const [key, value] of Object.entries(selector))
      expect(ds.spec.template.metadata.labels[key]).toBe(value);
  });

  it('runs as the service account that deploy/rbac.yaml creates and binds', () => {
    const account = findObject(manifests, 'ServiceAccount', pod.serviceAccountName);
    expect(account.metadata.namespace).toBe(ds.metadata.namespace);
    const binding = findObject(manifests, 'ClusterRoleBinding') as KubeObject & {
      subjects: { kind: string; name: string; namespace: string }[];
    };
    expect(binding.subjects).toContainEqual({
      kind: 'ServiceAccount',
      name: pod.serviceAccountName,
      namespace: ds.metadata.namespace,
    });
  });

  it('starts the agent subcommand of the eni-ipam command', () => {
    expect(agent.command).toBeUndefined(); // the image's entrypoint is the eni-ipam command (its bundle)
    const [subcommand, ...rest] = agent.args ?? [];
    expect(rest).toEqual([]);
    expect(Object.keys(SUBCOMMANDS)).toContain(subcommand);
  });

  it('sets MY_NODE_NAME from the downward API', () => {
    expect(env.find((e) => e.name === 'MY_NODE_NAME')).toEqual({
      name: 'MY_NODE_NAME',
      valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } },
    });
  });

  it('sets only variables of the config table, each once', () => {
    const known = new Set<string>(CONFIG_VARIABLES.map((v) => v.name));
    const names = env.map((e) => e.name);
    expect(names.filter((n) => !known.has(n))).toEqual([]);
    expect(new Set(names).size).toBe(names.length);
  });

  it('sets every default of the config table to its value, and leaves unset only the variables without one', () => {
    const set = literalEnv();
    for (const v of CONFIG_VARIABLES as readonly ConfigVariable[]) {
      if (v.default !== undefined) expect(set[v.name], v.name).toBe(v.default);
      if (v.required === true)
        expect(
          env.some((e) => e.name === v.name),
          v.name,
        ).toBe(true);
    }
    const unset = CONFIG_VARIABLES.map((v) => v.name).filter((n) => !env.some((e) => e.name === n));
    expect(unset.sort()).toEqual([...DELIBERATELY_UNSET].sort());
  });

  it('lists the variables it leaves unset in its comment', () => {
    expect(unsetNamesInComment().sort()).toEqual([...DELIBERATELY_UNSET].sort());
  });

  it("sets what the VPC CNI's chart sets: WARM_PREFIX_TARGET=1", () => {
    for (const [name, value] of Object.entries(CHART_VALUES)) expect(literalEnv()[name], name).toBe(value);
  });

  it("configures the agent exactly as its defaults do, plus the VPC CNI chart's values", () => {
    const node = { MY_NODE_NAME: 'ip-10-0-1-5.ec2.internal' };
    expect(loadConfig({ ...literalEnv(), ...node })).toEqual(loadConfig({ ...CHART_VALUES, ...node }));
  });

  it('probes the introspection endpoint where the agent serves it', () => {
    const { introspection } = loadConfig({ ...literalEnv(), MY_NODE_NAME: 'n' });
    expect(introspection.enabled).toBe(true);
    for (const kind of ['startupProbe', 'livenessProbe', 'readinessProbe'] as const) {
      const get = probeOf(kind);
      // hostNetwork: kubelet, on the host, reaches the agent's loopback listener.
      expect(get.host, kind).toBe(introspection.bind.host);
      expect(get.port, kind).toBe(introspection.bind.port);
      expect(INTROSPECTION_PATHS, kind).toContain(get.path);
    }
    expect(probeOf('livenessProbe').path).toBe('/healthz');
    expect(probeOf('readinessProbe').path).toBe('/readyz');
  });

  it('declares the metrics port the agent listens on', () => {
    const { metrics } = loadConfig({ ...literalEnv(), MY_NODE_NAME: 'n' });
    expect(metrics.enabled).toBe(true);
    expect(agent.ports).toContainEqual({
      name: 'metrics',
      containerPort: metrics.bind.port,
      protocol: 'TCP',
    });
  });

  it('puts the socket, checkpoint and spool at the same paths on the host', () => {
    const config = loadConfig({ ...literalEnv(), MY_NODE_NAME: 'n' });
    for (const path of [config.socketPath, config.checkpointPath, config.spoolPath]) {
      // The plugin on the host uses the host path: it must be the path the agent uses.
      expect(hostPathOf(agent, path), path).toBe(path);
    }
  });

  it('has requests and a memory limit, and no CPU limit', () => {
    for (const container of [agent, install]) {
      expect(container.resources?.requests?.['cpu'], container.name).toBeDefined();
      expect(container.resources?.requests?.['memory'], container.name).toBeDefined();
      expect(container.resources?.limits?.['memory'], container.name).toBeDefined();
      expect(container.resources?.limits?.['cpu'], container.name).toBeUndefined();
    }
  });

  it('drops every capability but NET_ADMIN for the agent (the datapath), none for the installer, and cannot escalate', () => {
    for (const container of [agent, install]) {
      expect(container.securityContext, container.name).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(container.securityContext?.['privileged'], container.name).toBeUndefined();
    }
    expect(install.securityContext?.['capabilities']).not.toHaveProperty('add');
    expect(agent.securityContext?.['capabilities']).toEqual({ drop: ['ALL'], add: ['NET_ADMIN'] });
  });

  it("mounts the host's network sysctls where the datapath writes them", () => {
    expect(hostPathOf(agent, '/host/proc/sys/net/ipv4/ip_forward')).toBe('/proc/sys/net/ipv4/ip_forward');
  });

  it('uses the image the kustomization sets, at the version of package.json', () => {
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    expect(agent.image).toBe(`eni-ipam:${version}`);
    expect(install.image).toBe(agent.image);
    const kustomization = readFileSync(join(DEPLOY_DIR, 'kustomization.yaml'), 'utf8');
    expect(kustomization).toMatch(
      new RegExp(`- name: eni-ipam\\n\\s+newTag: ${version.replace(/\./g, '\\.')}\\n`),
    );
  });
});

describe('the install-cni init container', () => {
  const installEnv = Object.fromEntries((install.env ?? []).map((e) => [e.name, e.value ?? '']));

  it('runs the install script the image ships', () => {
    expect(install.command).toEqual(['/opt/eni-ipam/install-cni.sh']);
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/COPY[^\n]*deploy\/image\/install-cni\.sh \/opt\/eni-ipam\/install-cni\.sh/);
    expect(dockerfile).toContain(`/opt/eni-ipam/cni/${PLUGIN_NAME}`);
    expect(installEnv['PLUGIN_SOURCE']).toBe(`/opt/eni-ipam/cni/${PLUGIN_NAME}`);
  });

  it("writes into the host's /opt/cni/bin and /etc/cni/net.d", () => {
    expect(hostPathOf(install, installEnv['CNI_BIN_DIR']!)).toBe('/opt/cni/bin');
    expect(hostPathOf(install, installEnv['CNI_NET_DIR']!)).toBe('/etc/cni/net.d');
  });

  it('installs the conflist of the ConfigMap', () => {
    const source = installEnv['CONFLIST_SOURCE']!;
    const mount = install.volumeMounts!.find((m) => m.mountPath === dirname(source))!;
    expect(mount.readOnly).toBe(true);
    const volume = pod.volumes.find((v) => v.name === mount.name)!;
    const configMap = findObject(manifests, 'ConfigMap', volume.configMap!.name) as KubeObject & {
      data: Record<string, string>;
    };
    expect(Object.keys(configMap.data)).toContain(posix.basename(source));
  });
});
