// A vitest environment for the renderer's state classes: Node's globals (fetch, Blob, URL, File are
// all there in Node 20), but modules are transformed for the browser ("client" Vite environment), so
// vite-plugin-svelte compiles `.svelte.ts` runes the way the app runs them (deep $state proxies) rather
// than the server build, where $state is a plain field and proxy bugs would not show.
import type { Environment } from 'vitest/environments';

export default {
  name: 'svelte-client',
  viteEnvironment: 'client',
  setup() {
    return { teardown() {} };
  },
} satisfies Environment;
