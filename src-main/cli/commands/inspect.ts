// `reslens inspect MODEL`: what the model file is, or why ResLens refuses it.
import type { Command } from 'commander';
import { inspectModelFile } from '../../engine/model/inspect.js';
import type { CliContext } from '../context.js';

const millions = (n: number): string => `${(n / 1e6).toFixed(2)} M`;
const billions = (n: number): string => `${(n / 1e9).toFixed(2)} G`;

export function registerInspectCommand(program: Command, context: CliContext): void {
  program
    .command('inspect')
    .description('describe an ONNX model: input, classes, opset, parameters, multiply-adds')
    .argument('<model>', 'catalog model name or path to an .onnx file')
    .option('--json', 'print one JSON object')
    .action(async (model: string, flags: { json?: boolean }) => {
      const file = await context.modelPath(model);
      const info = await inspectModelFile(file);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(info)}\n`);
        return;
      }
      const ops = Object.entries(info.operators).map(([op, n]) => `${op}×${n}`).join(' ');
      process.stdout.write(
        [
          `model     ${info.path}`,
          `size      ${(info.bytes / 1e6).toFixed(1)} MB · sha256 ${info.sha256}`,
          `format    ONNX IR ${info.irVersion} · opset ${info.opset}${info.producer ? ` · ${info.producer}` : ''}`,
          `input     ${info.input.name} ${JSON.stringify(info.input.shape)} ${info.input.layout}${info.input.dynamicBatch ? ' (dynamic batch)' : ' (fixed batch)'}`,
          `output    ${info.output.name} ${JSON.stringify(info.output.shape)} · ${info.classes} classes`,
          `params    ${millions(info.params)} (${info.params.toLocaleString('en-US')})`,
          `MACs      ${billions(info.macs)} multiply-adds per image`,
          `nodes     ${info.nodes}: ${ops}`,
          '',
        ].join('\n'),
      );
    });
}
