// Class labels: the shipped ImageNet-1k names, or a user's file (one label a line, or a JSON array).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../core/errors.js';
import { ErrorCode } from '../core/vocabulary.js';
import { findPackageFile } from './catalog.js';

/** Path of the shipped ImageNet-1k labels, models/imagenet_classes.txt. */
export function defaultLabelsPath(): string {
  return findPackageFile(path.join('models', 'imagenet_classes.txt'));
}

const invalid = (file: string, message: string, cause?: unknown): EngineError => new EngineError(ErrorCode.LABELS_INVALID, message, { item: file, cause });

/** Parses label text: a JSON array of strings, or one label per line (blank lines at the end ignored). */
export function parseLabels(text: string, file = 'labels'): string[] {
  const content = text.replace(/^\uFEFF/, '');
  const trimmed = content.trim();
  if (trimmed.length === 0) throw invalid(file, `labels file ${file} is empty`);
  if (trimmed.startsWith('[')) {
    let data: unknown;
    try {
      data = JSON.parse(trimmed);
    } catch (error) {
      throw invalid(file, `labels file ${file} looks like JSON but does not parse: ${(error as Error).message}`, error);
    }
    if (!Array.isArray(data) || data.length === 0) throw invalid(file, `labels file ${file} must hold a non-empty JSON array of strings`);
    const bad = data.findIndex((label) => typeof label !== 'string' || label.trim().length === 0);
    if (bad >= 0) throw invalid(file, `labels file ${file}: entry ${bad} is not a non-empty string`);
    return (data as string[]).map((label) => label.trim());
  }
  const lines = content.split(/\r\n|\n|\r/).map((line) => line.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  // A blank line in the middle would shift every later class by one: refuse it rather than guess.
  const blank = lines.indexOf('');
  if (blank >= 0) throw invalid(file, `labels file ${file}: line ${blank + 1} is empty (one label per line, in the model's output order)`);
  return lines;
}

let defaultLabels: Promise<string[]> | undefined;

/** Loads labels from `file`, or the shipped ImageNet-1k labels when no file is given. */
export async function loadLabels(file?: string): Promise<string[]> {
  if (file === undefined) {
    defaultLabels ??= readLabels(defaultLabelsPath()).catch((error: unknown) => {
      defaultLabels = undefined;
      throw error;
    });
    return [...(await defaultLabels)];
  }
  return readLabels(file);
}

async function readLabels(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw invalid(file, code === 'ENOENT' ? `labels file not found: ${file}` : `cannot read labels file ${file}: ${(error as Error).message}`, error);
  }
  return parseLabels(text, file);
}

/** Null when the labels fit a model with `classes` outputs, else a sentence saying what is wrong. */
export function labelCountProblem(labels: readonly string[], classes: number): string | null {
  if (labels.length === classes) return null;
  return `the model has ${classes} output classes but the labels list ${labels.length}`;
}

/** Throws LABELS_INVALID when the label count does not match the model's class count. */
export function checkLabelCount(labels: readonly string[], classes: number, source = 'labels'): void {
  const problem = labelCountProblem(labels, classes);
  if (problem !== null) throw invalid(source, `${problem} (${source}); pass a labels file with one label per class`);
}
