// Shared by the capture tests: the root/BPF guard, an event collector around
// CaptureSource, and the connect-flood tool built by bpf/scripts/build.sh.
import type { ExecutionContext } from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { findCgroup2Mount, isBuilt } from 'bpf-native-loader';
import { integrationTest } from '../helpers/require.ts';
import { CaptureSource } from '../../producer/source/capture.ts';
import type { CaptureSourceOptions } from '../../producer/source/capture.ts';
import type { CaptureEvent, ConnectEvent, DnsReplyEvent } from '../../producer/source/types.ts';

export const FLOOD = fileURLToPath(new URL('../../bpf/.output/connect-flood', import.meta.url));
export const NODE = process.execPath;

/**
 * A serial test that needs root and a BPF-capable kernel (test/helpers/require.ts):
 * skipped when they are missing, failed instead with CONNTRAIL_REQUIRE_INTEGRATION=1.
 * Use with top-level await. A missing build (addon, connect-flood) is a failure.
 */
export function captureTest(name: string, fn: (t: ExecutionContext) => Promise<void> | void): Promise<string[]> {
  return integrationTest(name, ['root', 'bpf'], async (t) => {
    if (!isBuilt()) t.fail('bpf-native-loader is not built: npm run build -w bpf-native-loader');
    else if (!existsSync(FLOOD)) t.fail(`${FLOOD} is not built: npm run build -w bpf-native-loader`);
    else await fn(t);
  }, { serial: true });
}

/** A running CaptureSource that keeps every event it receives, in order. */
export class Collector {
  readonly events: CaptureEvent[] = [];
  readonly source: CaptureSource;
  batches = 0;

  constructor(opts: Omit<CaptureSourceOptions, 'onEvents'> = {}) {
    this.source = CaptureSource.open({
      excludeSelf: false,
      pollIntervalMs: 5,
      ...opts,
      onEvents: (evs) => {
        this.batches++;
        for (const e of evs) this.events.push(e);
      },
    });
  }

  connects(pred: (e: ConnectEvent) => boolean = () => true): ConnectEvent[] {
    return this.events.filter((e): e is ConnectEvent => e.kind === 'connect' && pred(e));
  }

  dns(pred: (e: DnsReplyEvent) => boolean = () => true): DnsReplyEvent[] {
    return this.events.filter((e): e is DnsReplyEvent => e.kind === 'dns' && pred(e));
  }

  /** Waits until pred holds on the events (or throws after timeoutMs). */
  async waitFor<T>(what: string, get: () => T | undefined | false, timeoutMs = 3000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = get();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(10);
    }
  }

  stop(): Promise<void> {
    return this.source.stop();
  }
}

/**
 * A cgroup v2 of the test's own (removed at teardown, retried while the kernel
 * still holds it): a cgroup-attached capture there sees only the test's connects.
 */
export function ownCgroup(t: ExecutionContext): string {
  const root = findCgroup2Mount(readFileSync('/proc/mounts', 'utf8'))!;
  const cg = `${root}/conntrail-test-${randomBytes(4).toString('hex')}`;
  mkdirSync(cg);
  t.teardown(async () => {
    for (let i = 0; i < 50; i++) {
      try { rmdirSync(cg); return; } catch { await sleep(20); }
    }
  });
  return cg;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface RunResult {
  pid: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (argv, no shell). */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 30_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ pid: child.pid ?? 0, code, stdout, stderr }));
  });
}

/** `connect-flood` once (or -n N) to address:port; resolves with its pid. */
export function flood(address: string, port: number, extra: string[] = []): Promise<RunResult> {
  return run(FLOOD, ['-a', address, '-p', String(port), ...extra]);
}

/** A TCP port that nothing listens on (connects are refused): bound once, then released. */
export async function refusedPort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  srv.listen(0, host);
  await once(srv, 'listening');
  const port = (srv.address() as AddressInfo).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** A TCP server on host:random port that accepts and closes connections. */
export async function listener(host: string): Promise<{ port: number; close(): Promise<void> }> {
  const srv = createServer((sock) => sock.destroy());
  srv.listen(0, host);
  await once(srv, 'listening');
  return {
    port: (srv.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => srv.close(() => resolve())),
  };
}

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
