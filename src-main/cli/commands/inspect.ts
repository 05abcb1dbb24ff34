// `reslens inspect MODEL`: what the model file is, its ResNet stages, or why ResLens refuses it.
import type { Command } from 'commander';
import { type ArchitectureSummary, load, type StageMap } from '../../engine/index.js';
import type { CliContext } from '../context.js';

const millions = (n: number): string => `${(n / 1e6).toFixed(2)} M`;
const billions = (n: number): string => `${(n / 1e9).toFixed(2)} G`;

function architectureTable(summary: ArchitectureSummary): string[] {
  const header = ['stage', 'paper', 'output', 'channels', 'layers', 'params', 'MACs', 'building block'];
  const rows = summary.rows.map((r) => [
    r.stage,
    r.paperName,
    r.outputSize,
    String(r.channels),
    String(r.layers),
    millions(r.params),
    billions(r.macs),
    r.pattern,
  ]);
  rows.push(['head', 'fc', '1×1', '', '1', millions(summary.head.params), billions(summary.head.macs), summary.head.pattern]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [`architecture  ${summary.name}: ${summary.layerCount} weight layers · ${billions(summary.totalMacs)} multiply-adds`, line(header), ...rows.map(line)];
}

export function registerInspectCommand(program: Command, context: CliContext): void {
  program
    .command('inspect')
    .description('describe an ONNX model: input, classes, opset, parameters, multiply-adds, ResNet stages')
    .argument('<model>', 'catalog model name or path to an .onnx file')
    .option('--json', 'print one JSON object')
    .action(async (model: string, flags: { json?: boolean }) => {
      const file = await context.modelPath(model);
      const [{ architectureSummary }, { loadAndInspect }, { discoverStages }] = await Promise.all([
        load.modelArchitecture(),
        load.modelInspect(),
        load.modelStages(),
      ]);
      const { info, model: graph } = await loadAndInspect(file);
      let stages: StageMap | undefined;
      let stagesError: string | undefined;
      try {
        stages = discoverStages(graph, info);
      } catch (error) {
        stagesError = (error as Error).message;
      }
      if (flags.json) {
        const extra = stages
          ? {
              stages: stages.stages.map((s) => ({
                name: s.name,
                paperName: s.paperName,
                shape: s.shape,
                blocks: s.blocks,
                tensor: s.tensor,
                layers: s.layers,
                params: s.params,
                macs: s.macs,
              })),
              head: {
                op: stages.head.op,
                weight: stages.head.weight,
                shape: stages.head.weightShape,
                bias: stages.head.bias,
                features: stages.head.features,
                classes: stages.head.classes,
              },
              architecture: architectureSummary(stages, info),
            }
          : { stagesError };
        process.stdout.write(`${JSON.stringify({ ...info, ...extra })}\n`);
        return;
      }
      const ops = Object.entries(info.operators)
        .map(([op, n]) => `${op}×${n}`)
        .join(' ');
      const lines = [
        `model     ${info.path}`,
        `size      ${(info.bytes / 1e6).toFixed(1)} MB · sha256 ${info.sha256}`,
        `format    ONNX IR ${info.irVersion} · opset ${info.opset}${info.producer ? ` · ${info.producer}` : ''}`,
        `input     ${info.input.name} ${JSON.stringify(info.input.shape)} ${info.input.layout}${info.input.dynamicBatch ? ' (dynamic batch)' : ' (fixed batch)'}`,
        `output    ${info.output.name} ${JSON.stringify(info.output.shape)} · ${info.classes} classes`,
        `params    ${millions(info.params)} (${info.params.toLocaleString('en-US')})`,
        `MACs      ${billions(info.macs)} multiply-adds per image`,
        `nodes     ${info.nodes}: ${ops}`,
        '',
        ...(stages ? architectureTable(architectureSummary(stages, info)) : [`stages    ${stagesError}`]),
        '',
      ];
      process.stdout.write(lines.join('\n'));
    });
}
