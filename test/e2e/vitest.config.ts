import { defineConfig } from 'vitest/config';

// The e2e suites start real peers (network namespaces, kube-apiserver, moto, redis); see
// docs/test-peers.md. Run with: npx vitest run --config test/e2e/vitest.config.ts
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/e2e/**/*.test.ts'],
    // Peers are heavy on a 2-core machine: one file at a time.
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 60_000,
    // Starting kube-apiserver (every post-start hook) or moto (every service model) takes a while.
    hookTimeout: 180_000,
  },
});
