// The connect load generator (bench/tools/connect-gen.c), built on first use
// into bench/out/, and run as its own process: conntrail excludes its own
// process's connects in the kernel, so the load must come from elsewhere.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../tools/connect-gen.c', import.meta.url));
export const GEN = fileURLToPath(new URL('../out/connect-gen', import.meta.url));

/** Compiles connect-gen when missing or older than its source. */
export function buildGenerator(): string {
  if (!existsSync(GEN) || statSync(GEN).mtimeMs < statSync(SRC).mtimeMs) {
    mkdirSync(fileURLToPath(new URL('../out/', import.meta.url)), { recursive: true });
    execFileSync(process.env.CC ?? 'cc', ['-O2', '-Wall', '-o', GEN, SRC], { stdio: 'inherit' });
  }
  return GEN;
}

export interface GenResult { connects: number; seconds: number; rate: number; pid: number }

export interface RunningGenerator {
  pid: number;
  done: Promise<GenResult>;
}

/** Starts connect-gen at `rate` connects/s (0: flat out) for `seconds`. */
export function startGenerator(rate: number, seconds: number): RunningGenerator {
  let pid = 0;
  const done = new Promise<GenResult>((resolve, reject) => {
    const child = execFile(GEN, ['-r', String(rate), '-d', String(seconds)], { timeout: (seconds + 30) * 1000 }, (err, stdout) => {
      if (err) return reject(err);
      const m = /connects=(\d+) seconds=([\d.]+) rate=(\d+) pid=(\d+)/.exec(stdout);
      if (!m) return reject(new Error(`connect-gen: unexpected output ${JSON.stringify(stdout)}`));
      resolve({ connects: Number(m[1]), seconds: Number(m[2]), rate: Number(m[3]), pid: Number(m[4]) });
    });
    pid = child.pid ?? 0;
  });
  return { pid, done };
}
