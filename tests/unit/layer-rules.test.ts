// The layer rules (eslint.layers.js, eslint.config.js) fire: each case lints one small source file
// at a path inside a layer (the file need not exist: ESLint takes the path for its config) and
// asserts the import is refused, or, for the controls, allowed. `npm test` runs `npm run lint`
// first, so a real import that breaks a rule fails the suite.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LAYER_RULES = new Set(['no-restricted-imports', 'no-restricted-syntax']);

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: ROOT });
});

/** The layer-rule messages ESLint reports for `code` placed at `file` (relative to the root). */
async function layerMessages(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return result!.messages.filter((m) => m.ruleId !== null && LAYER_RULES.has(m.ruleId)).map((m) => m.message);
}

const refused: Array<[rule: string, file: string, code: string, says: RegExp]> = [
  [
    'engine folder order (no circles)',
    'src-main/engine/infer/fixture.ts',
    "export type { BatchJob } from '../batch/run.js';\n",
    /engine\/infer may import only/,
  ],
  [
    'engine folder order, lowest folder',
    'src-main/engine/model/fixture.ts',
    "import { startQueueBatch } from '../queue/batch.js';\nexport const f = startQueueBatch;\n",
    /engine\/model may import only/,
  ],
  [
    'engine folder order, from a subfolder',
    'src-main/engine/explain/methods/fixture.ts',
    "import { walkInputs } from '../../batch/walk.js';\nexport const f = walkInputs;\n",
    /engine\/explain may import only/,
  ],
  [
    'engine folder order, dynamic import()',
    'src-main/engine/batch/fixture.ts',
    "export const f = () => import('../blocks/lens.js');\n",
    /engine\/batch may import only/,
  ],
  ['the engine root holds only the entry', 'src-main/engine/fixture.ts', 'export const f = 1;\n', /root holds only index\.ts/],
  [
    'core imports no other engine folder',
    'src-main/engine/core/fixture.ts',
    "import { ModelStore } from '../model/store.js';\nexport const f = ModelStore;\n",
    /engine\/core may import only/,
  ],
  ['no engine module imports the entry', 'src-main/engine/core/fixture.ts', "export * from '../index.js';\n", /engine\/index\.ts is the hosts' entry/],
  [
    'the api imports only the pure engine modules',
    'src-main/api/fixture.ts',
    "import { EngineError } from '../engine/core/errors.js';\nexport const f = EngineError;\n",
    /only the engine's pure modules/,
  ],
  [
    'engine imports nothing above it',
    'src-main/engine/batch/fixture.ts',
    "import { EngineService } from '../../service/engine-service.js';\nexport const f = EngineService;\n",
    /engine imports nothing above it/,
  ],
  [
    'engine imports no host',
    'src-main/engine/core/fixture.ts',
    "import { main } from '../../cli/main.js';\nexport const f = main;\n",
    /engine imports nothing above it/,
  ],
  [
    'engine modules do not import the public entry',
    'src-main/engine/batch/fixture.ts',
    "import { EngineError } from '../index.js';\nexport const f = EngineError;\n",
    /hosts' entry/,
  ],
  [
    'api imports only the vocabulary',
    'src-main/api/fixture.ts',
    "import { ModelStore } from '../engine/model/store.js';\nexport const f = ModelStore;\n",
    /only the engine's pure modules/,
  ],
  [
    'api sits below the service',
    'src-main/api/fixture.ts',
    "import type { EngineService } from '../service/engine-service.js';\nexport type F = EngineService;\n",
    /api sits below/,
  ],
  ['api stays browser-safe', 'src-main/api/fixture.ts', "import { readFile } from 'node:fs/promises';\nexport const f = readFile;\n", /runs in a browser/],
  [
    'service sits below the hosts',
    'src-main/service/fixture.ts',
    "import { main } from '../cli/main.js';\nexport const f = main;\n",
    /service sits below every host/,
  ],
  [
    'no host imports another (cli → server)',
    'src-main/cli/commands/fixture.ts',
    "import { ReslensServer } from '../../server/server.js';\nexport const f = ReslensServer;\n",
    /No host imports another/,
  ],
  [
    'no host imports another (server → app)',
    'src-main/server/fixture.ts',
    "import { grants } from '../app/grants.js';\nexport const f = grants;\n",
    /No host imports another/,
  ],
  ['no host imports another (app → cli)', 'src-main/app/fixture.ts', "export const f = () => import('../cli/main.js');\n", /No host imports another/],
  [
    'hosts use the public entry (static)',
    'src-main/cli/fixture.ts',
    "import { EngineError } from '../engine/core/errors.js';\nexport const f = EngineError;\n",
    /public entry/,
  ],
  [
    'hosts use the public entry (type-only)',
    'src-main/server/fixture.ts',
    "import type { Classifier } from '../engine/infer/classifier.js';\nexport type F = Classifier;\n",
    /public entry/,
  ],
  [
    'hosts use the public entry (dynamic import())',
    'src-main/cli/commands/fixture.ts',
    "export const f = () => import('../../engine/batch/run.js');\n",
    /public entry/,
  ],
  [
    'hosts use the public entry (Electron glue)',
    'src-main/app/electron/fixture.ts',
    "import { removeDeadRunDirs } from '../../engine/core/temp-dirs.js';\nexport const f = removeDeadRunDirs;\n",
    /public entry/,
  ],
  ['electron only in app/electron', 'src-main/app/fixture.ts', "import { app } from 'electron';\nexport const f = app;\n", /Only src-main\/app\/electron/],
  [
    'electron never in the engine',
    'src-main/engine/infer/fixture.ts',
    "import { app } from 'electron';\nexport const f = app;\n",
    /Only src-main\/app\/electron/,
  ],
  [
    'renderer imports src-main/api only (engine)',
    'src-renderer/lib/fixture.ts',
    "import { EngineError } from '../../src-main/engine/index.js';\nexport const f = EngineError;\n",
    /imports src-main\/api only/,
  ],
  [
    'renderer imports src-main/api only (a host)',
    'src-renderer/lib/fixture.ts',
    "import { errorValue } from '../../src-main/server/server.js';\nexport const f = errorValue;\n",
    /imports src-main\/api only/,
  ],
];

const allowed: Array<[what: string, file: string, code: string]> = [
  [
    'an engine folder importing a lower one',
    'src-main/engine/batch/fixture.ts',
    "import { Classifier } from '../infer/classifier.js';\nexport const f = Classifier;\n",
  ],
  [
    'the api importing the vocabulary',
    'src-main/api/fixture.ts',
    "import { EXPLAIN_METHODS } from '../engine/core/vocabulary.js';\nexport const f = EXPLAIN_METHODS;\n",
  ],
  [
    'the service importing engine modules',
    'src-main/service/fixture.ts',
    "import { startBatch } from '../engine/batch/run.js';\nexport const f = startBatch;\n",
  ],
  [
    'a host importing the public entry, the service and the api',
    'src-main/server/fixture.ts',
    "import { load } from '../engine/index.js';\nimport { EngineService } from '../service/engine-service.js';\nimport type { EngineEvents } from '../api/contract.js';\nexport const f = [load, EngineService];\nexport type F = EngineEvents;\n",
  ],
  [
    'a host loading a heavy part through the entry',
    'src-main/cli/commands/fixture.ts',
    "import { load } from '../../engine/index.js';\nexport const f = () => load.batchRun();\n",
  ],
  ['the Electron glue importing electron', 'src-main/app/electron/fixture.ts', "import { app } from 'electron';\nexport const f = app;\n"],
  [
    'the renderer importing the api',
    'src-renderer/lib/fixture.ts',
    "import { decodeMessage } from '../../src-main/api/codec.js';\nimport type { EngineEvents } from '../../src-main/api/contract.js';\nexport const f = decodeMessage;\nexport type F = EngineEvents;\n",
  ],
];

describe('layer rules', () => {
  it.each(refused)('refuses: %s', async (_rule, file, code, says) => {
    const messages = await layerMessages(file, code);
    expect(messages.length, `${file}: ${code}`).toBeGreaterThan(0);
    expect(messages.join('\n')).toMatch(says);
  });

  it.each(allowed)('allows %s', async (_what, file, code) => {
    expect(await layerMessages(file, code)).toEqual([]);
  });
});

describe('every engine folder has its place in the order', () => {
  it('a folder missing from ENGINE_FOLDERS would escape the circle rule', async () => {
    const { readdirSync } = await import('node:fs');
    // @ts-expect-error -- the ESLint config is plain JavaScript without declarations
    const { ENGINE_FOLDERS } = (await import('../../eslint.layers.js')) as { ENGINE_FOLDERS: string[] };
    const folders = readdirSync(path.join(ROOT, 'src-main', 'engine'), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    expect(folders.filter((name) => !ENGINE_FOLDERS.includes(name))).toEqual([]);
  });

  it('the engine root holds only the entry (every other module sits in a folder)', async () => {
    const { readdirSync } = await import('node:fs');
    const rootFiles = readdirSync(path.join(ROOT, 'src-main', 'engine'), { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => entry.name);
    expect(rootFiles).toEqual(['index.ts']);
  });
});
