// kafkajs as published, for the differential tests: the files that
// patches/kafkajs+2.2.4.patch changes, with the patch reversed in memory, each
// loaded as a module of the installed kafkajs (so its other modules, Encoder,
// Long, the compression codecs, are shared), and a pristine file requiring
// another patched one gets that one's pristine version too.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PATCH_FILE, PATCHED_FILES } from '../../producer/sink/kafkajs-patch.ts';

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The installed kafkajs's src/ directory. */
export const KAFKAJS_SRC = path.join(path.dirname(require.resolve('kafkajs')), 'src');

interface Hunk {
  /** 1-based first line of the hunk in the patched file. */
  newStart: number;
  /** The hunk's lines with their ' ', '-' or '+' prefix. */
  lines: string[];
}

/** The hunks of a patch-package (git diff) patch, by file relative to kafkajs/src. */
export function parsePatch(text: string): Map<string, Hunk[]> {
  const files = new Map<string, Hunk[]>();
  let hunks: Hunk[] | undefined;
  let hunk: Hunk | undefined;
  for (const line of text.split('\n')) {
    const file = /^\+\+\+ b\/node_modules\/kafkajs\/src\/(.+)$/.exec(line);
    if (file) {
      hunks = [];
      files.set(file[1]!, hunks);
      hunk = undefined;
      continue;
    }
    const head = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
    if (head && hunks) {
      hunk = { newStart: Number(head[1]), lines: [] };
      hunks.push(hunk);
      continue;
    }
    if (line.startsWith('diff --git ')) hunk = undefined;
    else if (hunk && /^[ +-]/.test(line)) hunk.lines.push(line);
    else if (hunk && line.startsWith('\\')) throw new Error(`${PATCH_FILE}: "${line}" is not handled here`);
  }
  return files;
}

/** The text before `hunks` were applied to `patched` (throws when they do not match it). */
export function reverseHunks(patched: string, hunks: readonly Hunk[], what: string): string {
  const lines = patched.split('\n');
  for (const h of [...hunks].reverse()) {
    const after = h.lines.filter((l) => !l.startsWith('-')).map((l) => l.slice(1));
    const before = h.lines.filter((l) => !l.startsWith('+')).map((l) => l.slice(1));
    const at = after.length === 0 ? h.newStart : h.newStart - 1;
    const found = lines.slice(at, at + after.length);
    if (found.join('\n') !== after.join('\n')) throw new Error(`${what}: the installed file does not match ${PATCH_FILE} at line ${h.newStart}`);
    lines.splice(at, after.length, ...before);
  }
  return lines.join('\n');
}

let patchHunks: Map<string, Hunk[]> | undefined;

/** kafkajs's own text of src/<rel> (the installed text when the patch does not touch it). */
export function pristineText(rel: string): string {
  patchHunks ??= parsePatch(fs.readFileSync(path.join(ROOT, PATCH_FILE), 'utf8'));
  const installed = fs.readFileSync(path.join(KAFKAJS_SRC, rel), 'utf8');
  const hunks = patchHunks.get(rel);
  return hunks ? reverseHunks(installed, hunks, `kafkajs/src/${rel}`) : installed;
}

const patched = new Set<string>(PATCHED_FILES.map((rel) => path.join(KAFKAJS_SRC, rel)));
const loaded = new Map<string, unknown>();

/** The exports of kafkajs's own src/<rel>, one of the files the patch changes. */
export function pristine<T>(rel: string): T {
  const file = path.join(KAFKAJS_SRC, rel);
  if (!patched.has(file)) throw new Error(`${rel} is not a file ${PATCH_FILE} changes`);
  if (loaded.has(file)) return loaded.get(file) as T;
  const req = createRequire(file);
  const localRequire = (id: string): unknown => {
    const resolved = req.resolve(id);
    return patched.has(resolved) ? pristine(path.relative(KAFKAJS_SRC, resolved)) : req(id);
  };
  const m = { exports: {} as unknown };
  new Function('exports', 'require', 'module', '__filename', '__dirname', pristineText(rel))(m.exports, localRequire, m, file, path.dirname(file));
  loaded.set(file, m.exports);
  return m.exports as T;
}
