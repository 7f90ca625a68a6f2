import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Suites that start real peers (redis, kube-apiserver, network namespaces) live under test/e2e
    // and are run by their own command; see the README.
    exclude: ['test/e2e/**', 'node_modules/**', 'dist/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    coverage: {
      provider: 'v8',
      include: ['ipam/**', 'provider/**', 'agent/**', 'sim/**', 'cni/**', 'cli/**', 'time/**'],
      reporter: ['text-summary', 'json-summary'],
    },
  },
});
