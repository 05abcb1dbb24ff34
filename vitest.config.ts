import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Real onnxruntime sessions on a 2-core machine: run files one at a time and allow for model loading.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 600_000,
    globalSetup: ['tests/fixtures/global-setup.ts'],
    projects: [
      { extends: true, test: { name: 'engine', include: ['tests/unit/**/*.test.ts', 'tests/engine/**/*.test.ts', 'tests/integration/**/*.test.ts'] } },
      // The renderer's state classes (runes in .svelte.ts), tested beside them with a fake transport: compiled by
      // the Svelte plugin for the browser (as the app runs them), in Node's globals (tests/helpers/svelte-client-environment.ts).
      {
        extends: true,
        plugins: [svelte()],
        resolve: { conditions: ['browser'] },
        test: { name: 'renderer', include: ['src-renderer/**/*.test.ts'], environment: './tests/helpers/svelte-client-environment.ts' },
      },
    ],
  },
});
