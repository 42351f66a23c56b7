// Each measurement runs in a fresh Node process (its own heap, JIT and
// counters); the worker reads its options from argv and prints one result
// line. bench/run.ts starts the workers and collects the lines.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MARK = 'BENCH_RESULT ';

/** The worker's options (JSON in argv[2]). */
export function workerOptions<T>(): T {
  const raw = process.argv[2];
  if (!raw) throw new Error('worker: options JSON expected as the first argument');
  return JSON.parse(raw) as T;
}

/** Prints the worker's result for the parent. */
export function emitResult(result: unknown): void {
  process.stdout.write(MARK + JSON.stringify(result) + '\n');
}

/** Logs go to stderr, so stdout carries only the result. */
export function note(msg: string): void {
  process.stderr.write(`  ${msg}\n`);
}

export interface RunWorkerOptions {
  nodeArgs?: string[];
  timeoutMs?: number;
  /** Echo the worker's stderr (its notes) to ours. */
  echo?: boolean;
}

/** Runs bench/workers/<name>.ts with `opts`; resolves with its result. */
export function runWorker<R>(name: string, opts: unknown, ro: RunWorkerOptions = {}): Promise<R> {
  const script = fileURLToPath(new URL(`../workers/${name}.ts`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(ro.nodeArgs ?? []), script, JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      if (ro.echo !== false) process.stderr.write(c);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), ro.timeoutMs ?? 600_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(MARK));
      if (code === 0 && line) {
        resolve(JSON.parse(line.slice(MARK.length)) as R);
        return;
      }
      const tail = err.trim().split('\n').slice(-8).join('\n');
      reject(new Error(`worker ${name} ${signal ? `killed by ${signal}` : `exited ${code}`}${line ? '' : ' without a result'}:\n${tail}`));
    });
  });
}
