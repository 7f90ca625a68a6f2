/**
 * The deploy/ manifests as data, for the deploy tests and for the end-to-end test that applies them
 * to a real kube-apiserver: the files in apply order, each parsed into its YAML documents, and
 * typed accessors for the objects the tests cross-check.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');

/**
 * The Kubernetes manifests of deploy/, relative to it, in the order to apply them: definitions and
 * permissions before the DaemonSet that uses them. deploy/kustomization.yaml lists the same.
 */
export const MANIFEST_FILES = [
  'eniconfig-crd.yaml',
  'rbac.yaml',
  'cni-config.yaml',
  'daemonset.yaml',
] as const;

/** Absolute paths of the manifests in apply order (for `kubectl apply -f` one by one, or a dry run). */
export function manifestFilesInApplyOrder(): string[] {
  return MANIFEST_FILES.map((file) => join(DEPLOY_DIR, file));
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export interface LoadedManifest {
  /** Relative to deploy/. */
  file: string;
  object: KubeObject;
}

/** Parses one YAML file into its documents; throws on any YAML error or warning. */
export function parseYamlFile(path: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'), { prettyErrors: true, strict: true });
  return docs.map((doc) => {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) throw new Error(`${path}: ${problems.map((p) => p.message).join('; ')}`);
    return doc.toJS() as unknown;
  });
}

function isKubeObject(value: unknown): value is KubeObject {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const meta = v['metadata'] as Record<string, unknown> | undefined;
  return (
    typeof v['apiVersion'] === 'string' && typeof v['kind'] === 'string' && typeof meta?.['name'] === 'string'
  );
}

/** Every object of every manifest, in apply order; throws on a document that is not an object. */
export function loadManifests(): LoadedManifest[] {
  const out: LoadedManifest[] = [];
  for (const file of MANIFEST_FILES) {
    for (const doc of parseYamlFile(join(DEPLOY_DIR, file))) {
      if (doc === null) continue; // an empty document (a trailing ---)
      if (!isKubeObject(doc))
        throw new Error(`${file}: a document without apiVersion, kind and metadata.name`);
      out.push({ file, object: doc });
    }
  }
  return out;
}

/** The one object of that kind (and name, when given); throws when there is none or several. */
export function findObject(manifests: readonly LoadedManifest[], kind: string, name?: string): KubeObject {
  const found = manifests.filter(
    (m) => m.object.kind === kind && (name === undefined || m.object.metadata.name === name),
  );
  if (found.length !== 1)
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!.object;
}

// ---- The shapes the tests read (only the fields they use) ----

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

export interface HttpProbe {
  httpGet: { host?: string; port: number | string; path: string };
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  startupProbe?: HttpProbe;
  livenessProbe?: HttpProbe;
  readinessProbe?: HttpProbe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  volumeMounts?: VolumeMount[];
}

export interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  configMap?: { name: string };
  emptyDir?: Record<string, unknown>;
}

export interface DaemonSet extends KubeObject {
  spec: {
    selector: { matchLabels: Record<string, string> };
    updateStrategy: { type: string; rollingUpdate?: { maxUnavailable?: string | number } };
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        serviceAccountName: string;
        priorityClassName: string;
        hostNetwork: boolean;
        tolerations: Record<string, unknown>[];
        initContainers: Container[];
        containers: Container[];
        volumes: Volume[];
      };
    };
  };
}

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
