/**
 * deploy/chart with the real helm (test/peers/install.sh helm): lint, templates with several value
 * sets, the default render held equal to the Kustomize base in deploy/, and the chart on a real
 * kube-apiserver: every rendered object accepted by a strict server-side dry run (with the
 * Prometheus Operator's own CRDs installed), then `helm install` and `helm uninstall` for real.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEPLOY_DIR,
  REPO_ROOT,
  loadManifests,
  parseYamlFile,
  type Container,
  type DaemonSet,
  type EnvVar,
  type KubeObject,
} from '../deploy/manifests.js';
import { loadConfig } from '../../agent/config.js';
import { startKubeApiServer, type KubeApiServer } from '../peers/kube.js';
import { PeerMissingError, peerPaths } from '../peers/paths.js';
import { installCrd, kubeClients } from './harness/kube-cluster.js';
import { KubeRest, type ManifestObject } from './harness/kube-rest.js';
import {
  CHART_DIR,
  NAMESPACE,
  RELEASE,
  helm,
  objectOf,
  renderChart,
  withValuesFile,
} from './harness/helm.js';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

/** Every option a user tunes, set away from its default. */
const EVERYTHING_ON = {
  image: {
    repository: '111122223333.dkr.ecr.us-east-1.amazonaws.com/eni-ipam',
    tag: '9.9.9',
    pullPolicy: 'Always',
  },
  imagePullSecrets: [{ name: 'ecr' }],
  env: { WARM_IP_TARGET: '5', MINIMUM_IP_TARGET: 10, WARM_ENI_TARGET: null, CLUSTER_NAME: 'prod' },
  metrics: { port: 61680 },
  introspection: { port: 61681 },
  cni: { disableConfigs: '' },
  resources: { requests: { cpu: '50m', memory: '256Mi' }, limits: { memory: '512Mi' } },
  serviceAccount: {
    annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/eni-ipam' },
  },
  podAnnotations: { 'example.com/team': 'network' },
  podLabels: { team: 'network' },
  priorityClassName: 'system-cluster-critical',
  updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
  tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'net', effect: 'NoSchedule' }],
  nodeSelector: { 'eni-ipam/cni': 'eni-ipam' },
  cloudWatch: { enabled: true, format: 'cni-metrics-helper', aggregation: 'cluster' },
  podMonitor: { enabled: true, interval: '15s', labels: { release: 'kube-prometheus-stack' } },
  prometheusRule: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
  dashboard: { enabled: true },
};

/** Labels only Helm's render carries (release bookkeeping); the Kustomize base has the rest. */
const HELM_ONLY_LABELS = [
  'app.kubernetes.io/instance',
  'app.kubernetes.io/version',
  'app.kubernetes.io/managed-by',
  'helm.sh/chart',
];

/** An object as the Kustomize base would have it: no Helm bookkeeping, env in name order. */
function comparable(object: KubeObject): KubeObject {
  const copy = structuredClone(object);
  const labels = copy.metadata.labels;
  if (labels) {
    copy.metadata.labels = Object.fromEntries(
      Object.entries(labels).filter(([name]) => !HELM_ONLY_LABELS.includes(name)),
    );
  }
  if (copy.kind === 'DaemonSet') {
    const spec = (copy as DaemonSet).spec.template.spec;
    for (const c of [...spec.initContainers, ...spec.containers]) {
      c.env?.sort((a, b) => a.name.localeCompare(b.name));
    }
  }
  return copy;
}

const key = (o: KubeObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

function envOf(container: Container): Map<string, EnvVar> {
  return new Map((container.env ?? []).map((e) => [e.name, e]));
}

function agentOf(objects: KubeObject[]): { ds: DaemonSet; agent: Container; init: Container } {
  const ds = objectOf(objects, 'DaemonSet') as DaemonSet;
  return { ds, agent: ds.spec.template.spec.containers[0]!, init: ds.spec.template.spec.initContainers[0]! };
}

describe('deploy/chart with the real helm', () => {
  it('helm lint --strict passes with the defaults and with every option on', () => {
    const plain = helm(['lint', '--strict', CHART_DIR]);
    expect(plain.code, plain.stdout + plain.stderr).toBe(0);
    withValuesFile(EVERYTHING_ON, (file) => {
      const all = helm(['lint', '--strict', CHART_DIR, '-f', file]);
      expect(all.code, all.stdout + all.stderr).toBe(0);
    });
  });

  it("carries package.json's version as the chart's version and appVersion, and the Kustomize base's image tag", () => {
    const chart = parseYamlFile(join(CHART_DIR, 'Chart.yaml'))[0] as { version: string; appVersion: string };
    expect(chart.version).toBe(pkg.version);
    expect(chart.appVersion).toBe(pkg.version);
    const kustomization = parseYamlFile(join(DEPLOY_DIR, 'kustomization.yaml'))[0] as {
      images: { name: string; newTag: string }[];
    };
    expect(kustomization.images).toEqual([{ name: 'eni-ipam', newTag: pkg.version }]);
    const { agent, init } = agentOf(renderChart());
    expect(agent.image).toBe(`eni-ipam:${pkg.version}`);
    expect(init.image).toBe(`eni-ipam:${pkg.version}`);
  });

  it('renders with its defaults exactly the Kustomize base (deploy/*.yaml), object for object', () => {
    const rendered = renderChart().map(comparable);
    const base = loadManifests().map((m) => m.object);
    expect(rendered.map(key).sort()).toEqual(base.map(key).sort());
    const byKey = new Map(rendered.map((o) => [key(o), o]));
    for (const object of base) expect(byKey.get(key(object)), key(object)).toEqual(comparable(object));
    // The chart's release labels are on every object it owns, so `helm upgrade` can find them.
    for (const object of renderChart().filter((o) => o.kind !== 'CustomResourceDefinition')) {
      expect(object.metadata.labels?.['app.kubernetes.io/managed-by'], key(object)).toBe('Helm');
    }
  });

  it('puts every option users tune on aws-node where the agent and Kubernetes read it', () => {
    const objects = renderChart(EVERYTHING_ON);
    const { ds, agent, init } = agentOf(objects);
    const pod = ds.spec.template.spec as DaemonSet['spec']['template']['spec'] & Record<string, unknown>;
    expect(agent.image).toBe('111122223333.dkr.ecr.us-east-1.amazonaws.com/eni-ipam:9.9.9');
    expect(init.image).toBe(agent.image);
    expect((agent as Container & { imagePullPolicy?: string }).imagePullPolicy).toBe('Always');
    expect(pod['imagePullSecrets']).toEqual([{ name: 'ecr' }]);
    const env = envOf(agent);
    expect(env.get('WARM_IP_TARGET')?.value).toBe('5');
    expect(env.get('MINIMUM_IP_TARGET')?.value).toBe('10');
    expect(env.has('WARM_ENI_TARGET')).toBe(false);
    expect(env.get('CLUSTER_NAME')?.value).toBe('prod');
    expect(env.get('ENI_IPAM_CLOUDWATCH')?.value).toBe('true');
    expect(env.get('ENI_IPAM_CLOUDWATCH_FORMAT')?.value).toBe('cni-metrics-helper');
    expect(env.get('ENI_IPAM_CLOUDWATCH_AGGREGATION')?.value).toBe('cluster');
    expect(env.get('ENI_IPAM_METRICS_BIND_ADDRESS')?.value).toBe(':61680');
    expect(agent.ports).toEqual([{ name: 'metrics', containerPort: 61680, protocol: 'TCP' }]);
    expect(env.get('INTROSPECTION_BIND_ADDRESS')?.value).toBe('127.0.0.1:61681');
    for (const probe of [agent.startupProbe, agent.livenessProbe, agent.readinessProbe]) {
      expect(probe?.httpGet.port).toBe(61681);
    }
    expect(envOf(init).get('DISABLE_CNI_CONFIGS')?.value).toBe('');
    expect(agent.resources).toEqual(EVERYTHING_ON.resources);
    expect(pod.priorityClassName).toBe('system-cluster-critical');
    expect(ds.spec.updateStrategy).toEqual(EVERYTHING_ON.updateStrategy);
    expect(pod.tolerations).toEqual(EVERYTHING_ON.tolerations);
    expect(pod['nodeSelector']).toEqual({ 'eni-ipam/cni': 'eni-ipam' });
    expect(ds.spec.template.metadata.labels).toMatchObject({ team: 'network' });
    expect((ds.spec.template.metadata as { annotations?: object }).annotations).toEqual(
      EVERYTHING_ON.podAnnotations,
    );
    const sa = objectOf(objects, 'ServiceAccount');
    expect((sa.metadata as { annotations?: object }).annotations).toEqual(
      EVERYTHING_ON.serviceAccount.annotations,
    );
    const monitor = objectOf(objects, 'PodMonitor') as KubeObject & {
      spec: { podMetricsEndpoints: { port: string; interval: string }[]; selector: { matchLabels: object } };
    };
    expect(monitor.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
    expect(monitor.spec.podMetricsEndpoints[0]).toMatchObject({ port: 'metrics', interval: '15s' });
    expect(monitor.spec.selector.matchLabels).toEqual(ds.spec.selector.matchLabels);
    expect(objectOf(objects, 'PrometheusRule').metadata.labels).toMatchObject({
      release: 'kube-prometheus-stack',
    });
    const dashboard = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'eni-ipam-dashboard');
    expect(dashboard?.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    const json = (dashboard as KubeObject & { data: Record<string, string> }).data['eni-ipam.json']!;
    expect(JSON.parse(json)).toEqual(
      JSON.parse(readFileSync(join(CHART_DIR, 'files', 'dashboard.json'), 'utf8')),
    );
  });

  it('with metrics off: no port, DISABLE_METRICS=true; the optional objects appear only when asked for', () => {
    const { agent } = agentOf(renderChart({ metrics: { enabled: false } }));
    expect(agent.ports).toBeUndefined();
    expect(envOf(agent).get('DISABLE_METRICS')?.value).toBe('true');
    const kinds = renderChart().map((o) => o.kind);
    expect(kinds).not.toContain('PodMonitor');
    expect(kinds).not.toContain('PrometheusRule');
    expect(
      renderChart()
        .filter((o) => o.kind === 'ConfigMap')
        .map((o) => o.metadata.name),
    ).toEqual(['eni-ipam-cni-config']);
  });

  it("renders an environment the agent's own config loader accepts, with the defaults and every option on", () => {
    for (const values of [{}, EVERYTHING_ON]) {
      const { agent } = agentOf(renderChart(values));
      const env: Record<string, string> = {};
      for (const variable of agent.env ?? []) {
        // The downward API fills MY_NODE_NAME in a pod.
        env[variable.name] = variable.valueFrom ? 'ip-10-0-0-5.ec2.internal' : (variable.value ?? '');
      }
      const config = loadConfig(env);
      expect(config.metrics.bind.port).toBe(values === EVERYTHING_ON ? 61680 : 61678);
    }
  });

  it.each([
    [{ cloudWatch: { format: 'cloudwatch-agent' } }, '/cloudWatch/format'],
    [{ cloudWatch: { enabeld: true } }, "additional properties 'enabeld'"],
    [{ metrics: { port: '61678' } }, '/metrics/port'],
    [{ image: { digest: 'latest' } }, '/image/digest'],
    [{ env: { WARM_IP_TARGET: { value: 5 } } }, '/env/WARM_IP_TARGET'],
  ])('refuses bad values (%j) with an error that names them', (values, named) => {
    expect(() => renderChart(values)).toThrow(named);
  });

  it('pins the image by digest when one is given', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const { agent } = agentOf(renderChart({ image: { digest } }));
    expect(agent.image).toBe(`eni-ipam:${pkg.version}@${digest}`);
  });
});

describe('deploy/chart on a real kube-apiserver', () => {
  let kube: KubeApiServer | undefined;
  let rest: KubeRest;

  beforeAll(async () => {
    kube = await startKubeApiServer();
    rest = KubeRest.admin(kube);
    const admin = kubeClients(kube.kubeconfigPath);
    const crdDir = peerPaths.prometheusOperatorCrdDir;
    for (const file of [
      'monitoring.coreos.com_podmonitors.yaml',
      'monitoring.coreos.com_prometheusrules.yaml',
    ]) {
      const [crd] = parseYamlFile(requirePeerFile(join(crdDir, file))) as ManifestObject[];
      await installCrd(rest, admin, crd!);
    }
  });

  afterAll(async () => {
    await kube?.stop();
  });

  it('accepts every object of the defaults and of every-option-on renders with a strict server-side dry run', async () => {
    const admin = kubeClients(kube!.kubeconfigPath);
    const refused: string[] = [];
    for (const values of [{}, EVERYTHING_ON]) {
      const objects = renderChart(values) as ManifestObject[];
      // The chart's own CRD for real first (as helm installs crds/ first), so ENIConfig is known.
      for (const crd of objects.filter((o) => o.kind === 'CustomResourceDefinition')) {
        await installCrd(rest, admin, crd);
      }
      for (const object of objects.filter((o) => o.kind !== 'CustomResourceDefinition')) {
        const answer = await rest.apply(object, { dryRun: true });
        if (answer.status !== 200 && answer.status !== 201) {
          refused.push(`${object.kind} ${object.metadata.name}: ${answer.status} ${answer.text}`);
        }
      }
    }
    expect(refused).toEqual([]);
  });

  it('refuses a render the API server cannot take: the dry run can fail', async () => {
    const ds = objectOf(renderChart({ updateStrategy: { type: 'Sometimes' } }), 'DaemonSet');
    const answer = await rest.apply(ds, { dryRun: true });
    expect(answer.status).toBe(422);
    expect(answer.text).toContain('updateStrategy');
  });

  it('`helm install` with every option on creates the objects for real; `helm uninstall` removes them', async () => {
    const kubeconfig = kube!.kubeconfigPath;
    const installed = withValuesFile(EVERYTHING_ON, (file) =>
      helm(['install', RELEASE, CHART_DIR, '--namespace', NAMESPACE, '--kubeconfig', kubeconfig, '-f', file]),
    );
    expect(installed.code, installed.stderr).toBe(0);
    const ds = await rest.call('GET', `/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets/${RELEASE}`);
    expect(ds.status).toBe(200);
    expect((ds.body as DaemonSet).metadata.labels?.['app.kubernetes.io/version']).toBe(pkg.version);
    const rule = await rest.call(
      'GET',
      `/apis/monitoring.coreos.com/v1/namespaces/${NAMESPACE}/prometheusrules/${RELEASE}`,
    );
    expect(rule.status).toBe(200);
    const status = helm(['status', RELEASE, '--namespace', NAMESPACE, '--kubeconfig', kubeconfig]);
    expect(status.stdout).toContain('STATUS: deployed');
    const removed = helm([
      'uninstall',
      RELEASE,
      '--namespace',
      NAMESPACE,
      '--kubeconfig',
      kubeconfig,
      '--wait',
    ]);
    expect(removed.code, removed.stderr).toBe(0);
    const gone = await rest.call('GET', `/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets/${RELEASE}`);
    expect(gone.status).toBe(404);
  });
});

/** A peer's data file, or PeerMissingError naming the peer that installs it. */
function requirePeerFile(path: string): string {
  if (!existsSync(path)) throw new PeerMissingError('helm', `${path} is missing`);
  return path;
}
