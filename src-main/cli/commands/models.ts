// `reslens models list | pull NAME | import FILE | verify NAME | rm NAME`: the local model store.
import { type Command, InvalidArgumentError } from 'commander';
import { EngineError, ErrorCode, type ModelListing, normaliseModelName } from '../../engine/index.js';
import type { CliContext } from '../context.js';
import { createDownloadProgress, formatBytes } from '../progress.js';

function parseName(value: string): string {
  try {
    return normaliseModelName(value);
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

/** Ctrl-C cancels the running operation (a download keeps its partial file for the next pull). */
async function withInterrupt<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await run(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function listingJson(model: ModelListing) {
  const entry = model.catalogEntry;
  return {
    name: model.name,
    aliases: model.aliases,
    title: model.title,
    source: model.source,
    installed: model.installed,
    path: model.path,
    bytes: model.bytes,
    sha256: model.sha256,
    ...(entry
      ? {
          architecture: entry.architecture,
          variant: entry.variant,
          url: entry.url,
          license: entry.license,
          classes: entry.classes,
          accuracy: entry.accuracy ?? null,
        }
      : {}),
    addedAt: model.addedAt ?? null,
    importedFrom: model.importedFrom ?? null,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function registerModelsCommand(program: Command, context: CliContext): void {
  const models = program
    .command('models')
    .description('manage the local model store: list, pull, import, verify, rm')
    .addHelpText(
      'after',
      '\nThe store is the per-user data folder (see `reslens models list`); --models-dir or $RESLENS_MODELS_DIR choose another.\n' +
        '`resnet50` is an alias of resnet50-v1 (ONNX model zoo ResNet-50 v1, torchvision preprocessing); `resnet152` of resnet152-v1.',
    );

  registerList(models, context);
  registerPull(models, context);
  registerImport(models, context);
  registerVerify(models, context);
  registerRemove(models, context);
}

/** `models list`: the catalog and imported models, as a table or JSON. */
function registerList(models: Command, context: CliContext): void {
  models
    .command('list')
    .description('catalog models (installed or not) and imported models')
    .option('--json', 'print one JSON object: {dir, models: [...]}')
    .action(async (flags: { json?: boolean }) => {
      const store = context.store();
      const listings = await store.list();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ dir: store.dir, models: listings.map(listingJson) })}\n`);
        return;
      }
      const rows = [['NAME', 'SIZE', 'STATUS', 'DESCRIPTION']];
      for (const model of listings) {
        const aliases = model.aliases.length > 0 ? ` (alias: ${model.aliases.join(', ')})` : '';
        rows.push([
          model.name,
          model.bytes === null ? '?' : formatBytes(model.bytes),
          model.installed ? (model.source === 'imported' ? 'imported' : 'installed') : 'available',
          `${model.title}${aliases}`,
        ]);
      }
      process.stdout.write(`${table(rows)}\n\nstore: ${store.dir}\n`);
    });
}

/** `models pull NAME`: downloads a catalog model (Ctrl-C keeps the partial file for the next pull). */
function registerPull(models: Command, context: CliContext): void {
  models
    .command('pull')
    .description('download a catalog model into the store (resumes an interrupted download, checks SHA-256)')
    .argument('<name>', 'catalog model name or alias, e.g. resnet50')
    .option('--force', 'download again even if it is installed')
    .action(async (name: string, flags: { force?: boolean }) => {
      const store = context.store();
      const entry = store.catalogEntry(name);
      const progress = createDownloadProgress(entry?.name ?? name);
      const result = await withInterrupt((signal) =>
        store.pull(name, { onProgress: progress.update, signal, force: flags.force }).finally(() => progress.stop()),
      );
      const size = result.sidecar ? formatBytes(result.sidecar.bytes) : '';
      if (!result.downloaded) {
        process.stdout.write(`${result.name} is already installed: ${result.path}\n`);
        return;
      }
      const resumed = result.resumedFrom > 0 ? `, resumed from ${formatBytes(result.resumedFrom)}` : '';
      process.stdout.write(`${result.name} installed: ${result.path} (${size}, sha256 ${result.sidecar?.sha256 ?? '?'} verified${resumed})\n`);
    });
}

/** `models import FILE`: copies a checked local .onnx model into the store. */
function registerImport(models: Command, context: CliContext): void {
  models
    .command('import')
    .description('copy a local .onnx model into the store after checking it (a catalog model file is recognised by its SHA-256)')
    .argument('<file>', 'the .onnx file')
    .option('--name <name>', 'name in the store (default: the file name); a catalog name requires the catalog file', parseName)
    .option('--labels <file>', 'class names, one per line or a JSON array (required unless the model has the 1000 ImageNet classes)')
    .action(async (file: string, flags: { name?: string; labels?: string }) => {
      const result = await context.store().import(file, { name: flags.name, labelsFile: flags.labels });
      const labels = result.sidecar?.labelsFile ? `labels ${result.sidecar.labelsFile}` : 'ImageNet-1k labels';
      const kind = result.catalogEntry ? ` (catalog model ${result.catalogEntry.title}, sha256 verified)` : '';
      process.stdout.write(`imported ${result.name}${kind}: ${result.path}\n  ${result.classes} classes, ${labels}\n`);
    });
}

/** `models verify NAME`: recomputes the SHA-256; a damaged model is an error. */
function registerVerify(models: Command, context: CliContext): void {
  models
    .command('verify')
    .description("recompute an installed model's SHA-256 and compare it with the catalog (or the import record)")
    .argument('<name>', 'installed model name')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, flags: { json?: boolean }) => {
      const result = await context.store().verify(name);
      if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      if (!result.ok) {
        throw new EngineError(
          ErrorCode.CHECKSUM_MISMATCH,
          `${result.name} is damaged: expected sha256 ${result.expectedSha256} (${result.expectedBytes} bytes), got ${result.actualSha256} (${result.actualBytes} bytes). ` +
            `Remove it (reslens models rm ${result.name}) and pull or import it again`,
          { item: result.name },
        );
      }
      if (!flags.json) process.stdout.write(`${result.name} ok: sha256 ${result.actualSha256} (${formatBytes(result.actualBytes)})\n`);
    });
}

/** `models rm NAME`: deletes an installed model and what belongs to it. */
function registerRemove(models: Command, context: CliContext): void {
  models
    .command('rm')
    .alias('remove')
    .description('delete an installed model (and its partial download, sidecar and copied labels)')
    .argument('<name>', 'installed model name')
    .action(async (name: string) => {
      const result = await context.store().remove(name);
      process.stdout.write(`removed ${result.name}\n`);
    });
}
