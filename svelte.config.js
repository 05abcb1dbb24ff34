// Svelte compiler options shared by Vite (vite.renderer.config.ts) and svelte-check.
export default {
  compilerOptions: {
    runes: true,
  },
};
