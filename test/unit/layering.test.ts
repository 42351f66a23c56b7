// The layering of producer/, kept visible: the folders (source, transform,
// encode, registry, sink, telemetry, config, model) and the files at
// producer/'s root (run.ts, cli.ts, log.ts...) import each other without a
// cycle, and producer/ imports nothing of bench/ or test/ (bench/ may import
// producer/, not the other way round).
//
// Edges are the imports that load a module: `import type` / `export type`
// (and imports whose every name is marked `type`) are erased before the code
// runs, as dependency-cruiser and eslint-plugin-import's no-cycle count them by
// default. That is how config/ can take its vocabularies from the domain
// modules while they take their section's type from config/. Imports are read
// with the TypeScript parser; `npm test` runs this file with the unit tests.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Import { from: string; to: string; typeOnly: boolean }

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(rel));
    else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** The relative imports of one file, resolved to repository paths (read with the TypeScript parser). */
function importsOf(file: string, text: string): Import[] {
  const out: Import[] = [];
  const add = (spec: string, typeOnly: boolean): void => {
    if (!spec.startsWith('.')) return; // packages (bpf-native-loader included) are not layers of producer/
    out.push({ from: file, to: path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)), typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const everyNameTyped = clause !== undefined && clause.name === undefined && named !== undefined &&
        ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      add(node.moduleSpecifier.text, clause !== undefined && (clause.isTypeOnly || everyNameTyped));
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause;
      const everyNameTyped = named !== undefined && ts.isNamedExports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      add(node.moduleSpecifier.text, node.isTypeOnly || everyNameTyped);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) add(arg.text, false);
    }
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS));
  return out;
}

/** producer/<folder> for a file in a folder of producer/, the file itself at producer/'s root. */
function layerOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : file;
}

/** A cycle in the graph (its nodes, the first repeated at the end), or null. */
function findCycle(edges: ReadonlyMap<string, ReadonlySet<string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of edges.get(n) ?? []) {
      if (state.get(m) === 'open') return [...stack.slice(stack.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of [...edges.keys()].sort()) {
    if (!state.has(n)) {
      const c = visit(n);
      if (c) return c;
    }
  }
  return null;
}

const producerImports = tsFiles('producer').flatMap((f) => importsOf(f, fs.readFileSync(path.join(ROOT, f), 'utf8')));

test('the import parser sees static, bare and dynamic imports, and which are type-only', (t) => {
  const found = importsOf('producer/sink/x.ts', [
    "import { a } from './a.ts';",
    "import type { B } from '../b/b.ts';",
    "import { type C, type D } from '../c.ts';",
    "import { type E, f } from '../e.ts';",
    "export { g } from './g.ts';",
    "export type { H } from './h.ts';",
    "import './side.ts';",
    "const m = await import('../m/m.ts');",
    "// import { no } from './commented.ts';",
    "import kafkajs from 'kafkajs';",
  ].join('\n'));
  t.deepEqual(found.map((i) => [i.to, i.typeOnly]), [
    ['producer/sink/a.ts', false], ['producer/b/b.ts', true], ['producer/c.ts', true], ['producer/e.ts', false],
    ['producer/sink/g.ts', false], ['producer/sink/h.ts', true], ['producer/sink/side.ts', false], ['producer/m/m.ts', false],
  ]);
});

test('the cycle finder finds a cycle, and none in a DAG', (t) => {
  const g = (pairs: [string, string][]): Map<string, Set<string>> => {
    const m = new Map<string, Set<string>>();
    for (const [a, b] of pairs) m.set(a, (m.get(a) ?? new Set()).add(b));
    return m;
  };
  t.deepEqual(findCycle(g([['a', 'b'], ['b', 'c'], ['c', 'a']])), ['a', 'b', 'c', 'a']);
  t.is(findCycle(g([['a', 'b'], ['a', 'c'], ['b', 'c']])), null);
  t.is(layerOf('producer/sink/kafka.ts'), 'producer/sink');
  t.is(layerOf('producer/transform/dns/cache.ts'), 'producer/transform');
  t.is(layerOf('producer/run.ts'), 'producer/run.ts');
});

test('producer/: no cycle between its folders (and root files)', (t) => {
  t.true(producerImports.length > 100, `${producerImports.length} imports read`);
  const edges = new Map<string, Set<string>>();
  const why = new Map<string, string>();
  for (const i of producerImports) {
    if (i.typeOnly) continue;
    const a = layerOf(i.from);
    const b = layerOf(i.to);
    if (a === b) continue;
    edges.set(a, (edges.get(a) ?? new Set()).add(b));
    if (!why.has(`${a}>${b}`)) why.set(`${a}>${b}`, `${i.from} imports ${i.to}`);
  }
  const cycle = findCycle(edges);
  t.is(cycle, null, cycle ? `cycle: ${cycle.join(' -> ')}\n${cycle.slice(1).map((b, k) => why.get(`${cycle[k]}>${b}`)).join('\n')}` : '');
});

test('producer/ imports nothing outside producer/ (bench/ may import producer/, not the reverse)', (t) => {
  const outside = producerImports.filter((i) => !i.to.startsWith('producer/')).map((i) => `${i.from} imports ${i.to}`);
  t.deepEqual(outside, []);
  const bench = tsFiles('bench').flatMap((f) => importsOf(f, fs.readFileSync(path.join(ROOT, f), 'utf8')));
  t.true(bench.some((i) => i.to.startsWith('producer/')), 'bench/ is read (it imports producer/)');
});
