// The layer rules of ../shared/DESIGN.md as ESLint rules, one config object per zone.
//
//   engine < api < service < hosts (app — Electron glue, server — browser mode, cli)
//   - the engine imports nothing above it; inside it, each folder imports only the folders listed
//     before it in ENGINE_FOLDERS (so no two folders can form a circle); core/ (errors, files, rate,
//     temp-dirs, vocabulary, receptive-field-box) comes first and imports no other folder; the root
//     holds only index.ts, the hosts' entry, which imports every folder (a root file beside it that a
//     folder imported would close a circle through the root);
//   - the api (the contract the renderer bundles) imports only the engine's pure modules
//     (core/vocabulary, core/receptive-field-box: no imports);
//   - the service imports the engine and the api, never a host;
//   - a host never imports another host, and reaches the engine only through its public entry,
//     src-main/engine/index.ts (static and dynamic `import()` alike);
//   - the renderer imports src-main/api only (the renderer's own zone is in eslint.config.js).
//
// Why ESLint's own no-restricted-imports (patterns as regular expressions over the import string)
// rather than a resolver-based tool: it is already installed, adds ~0 s to `npm run lint`, and the
// code base imports by relative path only (no aliases, no barrels besides engine/index.ts), so the
// import string names the folder. The patterns over-approximate (`../batch/` is refused in
// engine/infer/ even from a deeper subfolder, where it would name infer/batch/): no such folder
// exists, and a new one would be named differently. ESLint's rule does not look at `import()`, so
// each zone also refuses the same strings in dynamic imports through no-restricted-syntax.
// tests/unit/layer-rules.test.ts lints one offending import per rule and asserts it is refused.

/** Engine folders from the bottom up: a folder may import only the folders before it. */
export const ENGINE_FOLDERS = [
  'core',
  'model',
  'preprocess',
  'infer',
  'features',
  'explain',
  'report',
  'batch',
  'sessions',
  'quantize',
  'opening',
  'blocks',
  'queue',
];
export const HOSTS = ['app', 'server', 'cli'];

const UP = '^(?:\\.\\./)+';
const ELECTRON = { name: 'electron', message: 'Only src-main/app/electron may import electron.' };

/** One zone: files, refused import strings (regex source → message), whether electron is allowed. */
function zone(files, refused, { ignores, electron = false } = {}) {
  const patterns = refused.map(([regex, message]) => ({ regex, message }));
  // esquery's regex literals cannot hold a "/", so it is written as \x2F there.
  const selectors = refused.map(([regex, message]) => ({
    selector: `ImportExpression[source.value=/${regex.replaceAll('/', '\\x2F')}/]`,
    message,
  }));
  return {
    files,
    ...(ignores ? { ignores } : {}),
    rules: {
      'no-restricted-imports': ['error', { paths: electron ? [] : [ELECTRON], patterns }],
      'no-restricted-syntax': ['error', ...selectors],
    },
  };
}

const either = (names) => `(?:${names.join('|')})`;
const ABOVE_ENGINE = [`${UP}${either(['api', 'service', ...HOSTS])}/`, 'The engine imports nothing above it (engine < api < service < hosts).'];
const RENDERER = ['src-renderer', 'src-main never imports the renderer.'];
const ENGINE_ENTRY_INSIDE = [`${UP}index\\.js$`, "engine/index.ts is the hosts' entry; engine modules import the module itself (a circle otherwise)."];

function engineZones() {
  const zones = [
    {
      files: ['src-main/engine/*.ts'],
      ignores: ['src-main/engine/index.ts'],
      rules: {
        'no-restricted-syntax': [
          'error',
          {
            selector: 'Program',
            message: "The engine's root holds only index.ts (the hosts' entry): put this module in a folder (core/ for the import-free basics).",
          },
        ],
      },
    },
  ];
  ENGINE_FOLDERS.forEach((folder, i) => {
    const above = ENGINE_FOLDERS.slice(i + 1);
    const refused = [ABOVE_ENGINE, RENDERER, ENGINE_ENTRY_INSIDE];
    if (above.length > 0) {
      refused.unshift([
        `${UP}${either(above)}/`,
        `engine/${folder} may import only ${ENGINE_FOLDERS.slice(0, i).join(', ') || "the engine's root files"} (order in eslint.layers.js: no circles between engine folders).`,
      ]);
    }
    zones.push(zone([`src-main/engine/${folder}/**`], refused));
  });
  return zones;
}

function hostZone(host, files, options) {
  const others = HOSTS.filter((h) => h !== host);
  return zone(
    files,
    [
      [`${UP}${either(others)}/`, `No host imports another: ${host} may not import ${others.join(' or ')}.`],
      [`${UP}engine/(?!index\\.js$)`, 'Hosts reach the engine through its public entry only: import from src-main/engine/index.js.'],
      RENDERER,
    ],
    options,
  );
}

export const layerZones = [
  ...engineZones(),
  zone(
    ['src-main/api/**'],
    [
      [`^\\.\\./${either(['service', ...HOSTS])}/`, 'The api sits below the service and the hosts.'],
      [
        '^\\.\\./engine/(?!core/(vocabulary|receptive-field-box)\\.js$)',
        "The api (bundled into the renderer) imports only the engine's pure modules without imports (core/vocabulary, core/receptive-field-box).",
      ],
      ['^node:', 'The api is bundled into the renderer, which runs in a browser.'],
      RENDERER,
    ],
  ),
  zone(['src-main/service/**'], [[`${UP}${either(HOSTS)}/`, 'The service sits below every host.'], RENDERER]),
  hostZone('app', ['src-main/app/**'], { ignores: ['src-main/app/electron/**'] }),
  hostZone('app', ['src-main/app/electron/**'], { electron: true }),
  hostZone('server', ['src-main/server/**']),
  hostZone('cli', ['src-main/cli/**']),
];
