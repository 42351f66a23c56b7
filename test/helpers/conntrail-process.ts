// `conntrail run` as a user runs it: the real CLI in its own process, with a
// config file written for the test. Resolves once it publishes (capture attaches
// first: a new host's first lines say what works, before Kafka is waited for).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';

export interface RunningConntrail {
  child: ChildProcessWithoutNullStreams;
  /** Every line it printed so far (stdout and stderr). */
  lines: string[];
  /** Its exit code. */
  exited: Promise<number | null>;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-run-'));

/** A TCP port free on 127.0.0.1 now. */
export async function freeLocalPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/**
 * Starts `node producer/cli.ts run --config <file>`; killed at the test's teardown if still running.
 * Without telemetry.prometheusPort in `config`, the endpoint (/metrics, /healthz, /readyz) gets a free
 * port, so that runs in parallel do not fight over the default 9464.
 */
export async function startConntrail(t: ExecutionContext, config: unknown, attachTimeoutMs = 60_000): Promise<RunningConntrail> {
  const file = path.join(tmp, `${randomUUID()}.json`);
  const c = config as { telemetry?: { prometheusPort?: number } };
  if (c.telemetry?.prometheusPort === undefined) c.telemetry = { ...c.telemetry, prometheusPort: await freeLocalPort() };
  fs.writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, ['producer/cli.ts', 'run', '--config', file], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buffered = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`conntrail did not attach within ${attachTimeoutMs} ms:\n${lines.join('\n')}`)), attachTimeoutMs);
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (/"msg":"publishing to Kafka"/.test(line)) {
          clearTimeout(timer);
          if (lines.some((l) => /connect probe \w+ attached/.test(l))) resolve();
          else reject(new Error(`conntrail published before saying which probe attached:\n${lines.join('\n')}`));
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`conntrail exited ${code} before attaching:\n${lines.join('\n')}`)); });
  });
  return { child, lines, exited };
}
