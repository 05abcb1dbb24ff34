// `reslens quantize MODEL --calibrate DIR`: a statically quantised int8 copy of MODEL in the model
// store (used by classify/batch --precision int8), calibrated on photos like the ones it will see,
// with its agreement with fp32 on photos held back from calibration printed and stored.
import { type Command, InvalidArgumentError } from 'commander';
import {
  load,
  describeCalibration,
  folderCalibrationSource,
  ACTIVATION_TYPES,
  type ActivationType,
  CALIBRATION_METHODS,
  type CalibrationMethod,
} from '../../engine/index.js';
import type { CliContext } from '../context.js';
import { ExitCode, UsageError, parsePositiveInt } from '../options.js';

interface QuantizeFlags {
  calibrate?: string;
  images: number;
  method: CalibrationMethod;
  activations: ActivationType;
  json?: boolean;
  hidden?: boolean;
}

function parseMethod(value: string): CalibrationMethod {
  if (!(CALIBRATION_METHODS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${CALIBRATION_METHODS.join(', ')}`);
  return value as CalibrationMethod;
}

function parseActivations(value: string): ActivationType {
  if (!(ACTIVATION_TYPES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${ACTIVATION_TYPES.join(', ')}`);
  return value as ActivationType;
}

const percent = (x: number): string => `${(x * 100).toFixed(1)}%`;

export function registerQuantizeCommand(program: Command, context: CliContext): void {
  program
    .command('quantize')
    .description('make a statically quantised int8 copy of a model (QDQ, per-channel int8 weights) for --precision int8, calibrated on your photos')
    .argument('<model>', 'catalog model name or path to an .onnx file')
    .option('--calibrate <dir>', 'folder of photos like the ones you will classify (walked recursively); required')
    .option('-n, --images <n>', 'photos to use from the folder (every fifth is held back to measure agreement with fp32)', parsePositiveInt, 50)
    .option(
      '--method <name>',
      `activation ranges: ${CALIBRATION_METHODS.join(', ')} (percentile clips 0.01% tails; entropy clips each tensor where its 8-bit histogram loses least, by KL divergence)`,
      parseMethod,
      'percentile' as CalibrationMethod,
    )
    .option('--activations <type>', 'activation type: uint8 (fastest on x86) or int8', parseActivations, 'uint8' as ActivationType)
    .option('--hidden', 'include hidden files and folders when walking the folder')
    .option('--json', 'print the stored record as one JSON object')
    .action(async (model: string, flags: QuantizeFlags) => {
      if (!flags.calibrate)
        throw new UsageError(
          '--calibrate <dir> is required: a folder of photos like the ones you will classify (50 are plenty); or run `reslens batch DIR --precision int8`, which calibrates on the first 50 photos of the batch when there is no int8 copy yet',
        );
      const [{ walkInputs }, { quantizeModel }] = await Promise.all([load.walk(), load.quantizeModel()]);
      const resolved = await context.resolve(model);
      const images: string[] = [];
      for await (const item of walkInputs([flags.calibrate], { includeHidden: flags.hidden })) {
        if ('error' in item) continue;
        images.push(item.path);
        if (images.length >= flags.images) break;
      }
      if (images.length === 0) throw new UsageError(`no images found in ${flags.calibrate}`);
      const store = context.store();
      const result = await quantizeModel({
        modelPath: resolved.path,
        modelName: resolved.name,
        storeDir: store.dir,
        preprocessing: resolved.preprocessing,
        images,
        method: flags.method,
        activations: flags.activations,
        calibrationSource: folderCalibrationSource(flags.calibrate),
        onProgress: (message) => context.log(message),
      });
      for (const skip of result.skipped) context.log(`skipped ${skip.path}: ${skip.message}`);
      const { record } = result;
      const f = record.fidelity;
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ path: result.path, ...record })}\n`);
      } else {
        process.stdout.write(
          [
            `int8 copy of ${resolved.name}: ${result.path} (${(record.bytes / 2 ** 20).toFixed(1)} MiB)`,
            `calibrated on ${describeCalibration(record)} (${record.method}, ${record.activations} activations; set sha256 ${record.calibrationSha256.slice(0, 16)}…)`,
            f.images > 0
              ? `agreement with fp32 on ${f.images} held-back photos: top-1 ${percent(f.top1Agreement)}, top-5 overlap ${percent(f.top5Overlap)}, mean KL ${f.meanKl.toFixed(4)} nats`
              : 'agreement with fp32: not measured (fewer than 3 photos; nothing held back)',
            `use it with: reslens classify … --model ${model} --precision int8`,
            '',
          ].join('\n'),
        );
      }
      process.exitCode = ExitCode.Ok;
    });
}
