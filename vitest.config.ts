import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.ts', 'tests/engine/**/*.test.ts'],
    // Real onnxruntime sessions on a 2-core machine: run files one at a time and allow for model loading.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 600_000,
    globalSetup: ['tests/fixtures/global-setup.ts'],
  },
});
