import { defineConfig } from 'vitest/config';
// Timeouts only catch a hung run: the storm and Chromium suites are CPU-bound and slow down with the machine.
export default defineConfig({ test: { include: ['tests/**/*.test.ts'], testTimeout: 240_000 } });
