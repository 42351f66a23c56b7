// The app as the package ships it (tools/package/build-deb.sh): JavaScript,
// compiled by tsc with tools/package/tsconfig.json, so that what the footprint
// section measures has no TypeScript stripper in it. Laid out under bench/out/
// so that packages resolve from the checkout's node_modules, except
// bpf-native-loader, which gets a compiled copy of its lib here (its
// package.json names lib/index.ts) over the checkout's built addon.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const APP_JS_DIR = path.join(ROOT, 'bench', 'out', 'app-js');

/** Compiles the app into APP_JS_DIR (afresh) and returns the path of its cli.js. */
export async function buildAppJs(): Promise<string> {
  rmSync(APP_JS_DIR, { recursive: true, force: true });
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
  await promisify(execFile)(tsc, ['-p', path.join(ROOT, 'tools', 'package', 'tsconfig.json'), '--outDir', APP_JS_DIR], { cwd: ROOT })
    .catch((e: Error & { stdout?: string }) => { throw new Error(`tsc (the app to JavaScript) failed: ${e.stdout?.trim() || e.message}`); });
  // as the package ships them beside producer/: the schemas, and package.json (the version)
  symlinkSync(path.join(ROOT, 'schemas'), path.join(APP_JS_DIR, 'schemas'));
  symlinkSync(path.join(ROOT, 'package.json'), path.join(APP_JS_DIR, 'package.json'));
  const loader = path.join(APP_JS_DIR, 'node_modules', 'bpf-native-loader');
  mkdirSync(loader, { recursive: true });
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'bpf', 'package.json'), 'utf8')) as { main: string };
  writeFileSync(path.join(loader, 'package.json'), JSON.stringify({ ...pkg, main: pkg.main.replace(/\.ts$/, '.js') }, null, 2));
  cpSync(path.join(APP_JS_DIR, 'bpf', 'lib'), path.join(loader, 'lib'), { recursive: true });
  symlinkSync(path.join(ROOT, 'bpf', 'build'), path.join(loader, 'build'));
  return path.join(APP_JS_DIR, 'producer', 'cli.js');
}
