// Lists the functions and methods longer than a limit (default 80 lines) in src-main and
// src-renderer/lib: *.ts files and the <script> blocks of .svelte files. Issue 13 asks for functions
// over ~80 lines to be split into named steps; this is how to find them. A closure is listed on its
// own and is also counted inside the function around it.
//
//   node scripts/long-functions.mjs [--limit 80] [--json] [folders...]
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const args = process.argv.slice(2);
const limitAt = args.indexOf('--limit');
const limit = limitAt >= 0 ? Number(args[limitAt + 1]) : 80;
const json = args.includes('--json');
const folders = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--limit');
const roots = folders.length > 0 ? folders : ['src-main', 'src-renderer/lib'];

function* sourceFiles(dir) {
  for (const name of readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) {
      if (name !== 'node_modules') yield* sourceFiles(file);
    } else if (/\.(ts|svelte)$/.test(name) && !/\.(test|spec)\.ts$/.test(name) && !name.endsWith('.d.ts')) {
      yield file;
    }
  }
}

/** The TypeScript of a file, and the line its text starts on (a .svelte file's <script> blocks, blank elsewhere). */
function scriptOf(file) {
  const text = readFileSync(file, 'utf8');
  if (!file.endsWith('.svelte')) return text;
  // Keep line numbers: everything outside <script> becomes blank lines.
  const lines = text.split('\n');
  let inside = false;
  return lines
    .map((line) => {
      if (!inside && /^<script\b/.test(line)) {
        inside = true;
        return '';
      }
      if (inside && /^<\/script>/.test(line)) {
        inside = false;
        return '';
      }
      return inside ? line : '';
    })
    .join('\n');
}

function nameOf(node, source) {
  if (node.name && ts.isIdentifier(node.name)) return node.name.text;
  if (node.name) return node.name.getText(source);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText(source);
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(source);
  if (parent && ts.isPropertyDeclaration(parent)) return parent.name.getText(source);
  if (parent && ts.isCallExpression(parent)) return `(callback of ${parent.expression.getText(source).replace(/\s+/g, '').slice(0, 50)})`;
  return '(anonymous)';
}

function ownerOf(node) {
  for (let up = node.parent; up; up = up.parent) {
    if (ts.isClassLike(up) && up.name) return `${up.name.text}.`;
  }
  return '';
}

const found = [];
for (const root of roots) {
  for (const file of sourceFiles(root)) {
    const source = ts.createSourceFile(file, scriptOf(file), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    const visit = (node) => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body) {
        const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
        const last = source.getLineAndCharacterOfPosition(node.getEnd()).line + 1;
        const lines = last - first + 1;
        if (lines > limit) found.push({ file, line: first, lines, name: `${ownerOf(node)}${nameOf(node, source)}` });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
}
found.sort((a, b) => b.lines - a.lines);
if (json) console.log(JSON.stringify(found, null, 2));
else for (const f of found) console.log(`${String(f.lines).padStart(4)}  ${f.file}:${f.line}  ${f.name}`);
