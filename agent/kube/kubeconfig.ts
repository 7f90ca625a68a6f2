/**
 * How the agent reaches the API server: the pod's service account by default (it runs as a
 * DaemonSet), or the kubeconfig file named by KUBECONFIG (development, the simulator, e2e tests).
 */
// From its module, not the package index: the index loads every generated API class and model.
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';

export function loadKubeConfig(kubeconfigPath: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath === undefined) kc.loadFromCluster();
  else kc.loadFromFile(kubeconfigPath);
  return kc;
}

/** A kubeconfig for one API server URL without credentials: tests and local fakes. */
export function kubeConfigForServer(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'target', server, skipTLSVerify: true }],
    users: [{ name: 'agent' }],
    contexts: [{ name: 'target', cluster: 'target', user: 'agent' }],
    currentContext: 'target',
  });
  return kc;
}
