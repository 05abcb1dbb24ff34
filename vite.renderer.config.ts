// The renderer bundle (Svelte 5 + Vite): `npm run build:renderer` writes dist/renderer, which browser
// mode serves and the desktop app loads. The output must run under a strict Content-Security-Policy
// (script-src 'self'; style-src 'self'): no inline scripts or styles, no inlined assets.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: path.join(here, 'src-renderer'),
  // Relative URLs: the same build works from http://127.0.0.1 and from the desktop app's own scheme.
  base: './',
  plugins: [svelte({ configFile: path.join(here, 'svelte.config.js') })],
  build: {
    outDir: path.join(here, 'dist', 'renderer'),
    emptyOutDir: true,
    target: 'es2022',
    // Everything is a file: data: fonts and inline CSS would need CSP exceptions.
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: { host: '127.0.0.1', strictPort: false },
});
