import { defineConfig } from 'vitest/config';

// Two projects: `unit` (fast, needs only redis-server for the shared EC2 budget test) and `e2e`
// (real peers: reference CNI plugins in network namespaces, kube-apiserver + etcd, moto; needs root).
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 300_000,
    pool: 'forks',
    coverage: {
      provider: 'v8',
      include: ['ipam/**', 'provider/**', 'datapath/**', 'agent/**', 'sim/**', 'cni/**', 'cli/**', 'time/**'],
      exclude: ['**/*.generated.ts'],
      reporter: ['text-summary', 'json-summary'],
      // The ipam/ coverage check in .ci/run reads the summary even when a test failed.
      reportOnFailure: true,
    },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**', 'node_modules/**', 'dist/**'],
        },
      },
      {
        extends: true,
        // Peers are shared machine-wide (ports, namespaces, CPU): one file at a time.
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], fileParallelism: false },
      },
    ],
  },
});
