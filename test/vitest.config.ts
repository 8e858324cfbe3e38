import { defineConfig } from 'vitest/config';

// Every suite under test/ (ring properties, integration, model-based); files run one at a time because
// integration suites start their own servers and the machine budget is shared.
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
