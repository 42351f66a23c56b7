// The connect load generator: bpf/tools/connect-flood.c (the one the capture
// tests use), at bpf/.output/connect-flood as bpf/scripts/build.sh builds it,
// rebuilt here when missing or older than its source. It runs as its own
// process: conntrail excludes its own process's connects in the kernel, so the
// load must come from elsewhere.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../bpf/tools/connect-flood.c', import.meta.url));
export const GEN = fileURLToPath(new URL('../../bpf/.output/connect-flood', import.meta.url));

/** Compiles connect-flood (as bpf/scripts/build.sh does) when missing or older than its source. */
export function buildGenerator(): string {
  if (!existsSync(GEN) || statSync(GEN).mtimeMs < statSync(SRC).mtimeMs) {
    mkdirSync(fileURLToPath(new URL('../../bpf/.output/', import.meta.url)), { recursive: true });
    execFileSync(process.env.CC ?? 'cc', ['-O2', '-Wall', '-o', GEN, SRC], { stdio: 'inherit' });
  }
  return GEN;
}

export interface GenResult { connects: number; seconds: number; rate: number; pid: number }

export interface RunningGenerator {
  pid: number;
  done: Promise<GenResult>;
}

/** Starts connect-flood at `rate` connects/s (0: flat out) for `seconds`. */
export function startGenerator(rate: number, seconds: number): RunningGenerator {
  let pid = 0;
  const done = new Promise<GenResult>((resolve, reject) => {
    const child = execFile(GEN, ['-r', String(rate), '-d', String(seconds)], { timeout: (seconds + 30) * 1000 }, (err, stdout) => {
      if (err) return reject(err);
      const m = /connects=(\d+) seconds=([\d.]+) rate=(\d+) pid=(\d+)/.exec(stdout);
      if (!m) return reject(new Error(`connect-flood: unexpected output ${JSON.stringify(stdout)}`));
      resolve({ connects: Number(m[1]), seconds: Number(m[2]), rate: Number(m[3]), pid: Number(m[4]) });
    });
    pid = child.pid ?? 0;
  });
  return { pid, done };
}
