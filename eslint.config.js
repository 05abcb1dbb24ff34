// Flat ESLint config: JavaScript recommended + typescript-eslint recommended for every TS file.
import js from '@eslint/js';
import globals from 'globals';
import svelte from 'eslint-plugin-svelte';
import tseslint from 'typescript-eslint';
import svelteConfig from './svelte.config.js';
import { layerZones } from './eslint.layers.js';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'out/', '.scratch/', 'tests/fixtures/generated/', 'test-results/', 'bench-results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always'],
      'no-restricted-imports': ['error', { paths: [{ name: 'electron', message: 'Only src-main/app/electron may import electron.' }] }],
    },
  },
  // The layers (engine < api < service < hosts) as lint rules: see eslint.layers.js. Electron may be
  // imported only by the desktop shell's Electron-facing modules (src-main/app/electron); the rest of
  // src-main/app (IPC validation, grants, engine bridge) stays Electron-free and is tested without the binary.
  ...layerZones,
  // The renderer (src-renderer): Svelte 5 components and browser code. It reaches the engine only
  // through its transport (ReslensApi + HostApi): from src-main it imports src-main/api (the
  // contract and the wire codec), nothing else.
  ...svelte.configs.recommended,
  {
    files: ['src-renderer/**/*.svelte', 'src-renderer/**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'], svelteConfig } },
  },
  {
    files: ['src-renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'The renderer never imports electron: the preload exposes window.reslens.' }],
          patterns: [
            { group: ['node:*'], message: 'The renderer runs in a browser.' },
            {
              group: ['**/src-main/*/**', '!**/src-main/api/**'],
              message: 'The renderer imports src-main/api only: it reaches the engine through its transport.',
            },
          ],
        },
      ],
    },
  },
);
