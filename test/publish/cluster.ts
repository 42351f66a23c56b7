// A 3-broker Kafka cluster (and its controller) of the test's own, started by
// `stack.sh up --brokers 3 --no-registry` in a private state directory on free
// ports (so the shared single-node stack on 9092 is never touched), stopped
// with `down --wipe`.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const STACK = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'stack', 'stack.sh');

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A base port p with p..p+5 free: broker i listens on p+2(i-1), the controller on p+1. */
async function freePortRun(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const base = 20000 + 2 * Math.floor(Math.random() * 15000);
    let ok = true;
    for (let p = base; p < base + 6 && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error('no 6 consecutive free ports found');
}

export class TestCluster {
  readonly dir: string;
  readonly basePort: number;
  readonly #env: NodeJS.ProcessEnv;

  private constructor(dir: string, basePort: number) {
    this.dir = dir;
    this.basePort = basePort;
    // the caller's own stack settings (dir, ports) must not leak in; the download cache and
    // the session timeout (to try Kafka's default of 9000) may
    const keep = new Set(['CONNTRAIL_STACK_CACHE', 'CONNTRAIL_STACK_SESSION_TIMEOUT_MS']);
    const own = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CONNTRAIL_STACK_') || keep.has(k)));
    this.#env = {
      // a crashed broker fenced after 2 s (stack.sh's default is 3 s, Kafka's 9 s): the
      // election stays well inside the failover test's 5 s bound on a loaded machine
      CONNTRAIL_STACK_SESSION_TIMEOUT_MS: '2000',
      ...own,
      CONNTRAIL_STACK_DIR: dir,
      CONNTRAIL_STACK_KAFKA_PORT: String(basePort),
      CONNTRAIL_STACK_CONTROLLER_PORT: String(basePort + 1),
    };
  }

  /** Node ids 1..3 -> host:port. */
  address(nodeId: number): string { return `127.0.0.1:${this.basePort + 2 * (nodeId - 1)}`; }
  get brokers(): string[] { return [1, 2, 3].map((i) => this.address(i)); }

  /** Starts the cluster; rejects with stack.sh's output when it does not come up. */
  static async start(): Promise<TestCluster> {
    const c = new TestCluster(fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-cluster-')), await freePortRun());
    // the nodes run in their own sessions: if the test process dies before destroy(), take them along
    process.once('exit', () => c.#killAll());
    try {
      await c.stack('up', '--brokers', '3', '--no-registry');
    } catch (err) {
      await c.destroy();
      throw err;
    }
    return c;
  }

  /** Runs stack.sh with this cluster's settings; up again starts the nodes that are not running. */
  async stack(...args: string[]): Promise<string> {
    try {
      const { stdout } = await exec('bash', [STACK, ...args], { env: this.#env, timeout: 240_000 });
      return stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`stack.sh ${args.join(' ')} failed: ${e.stderr || e.message}\n${e.stdout ?? ''}`);
    }
  }

  /** The pid of node `nodeId`'s JVM. */
  pid(nodeId: number): number {
    return Number(fs.readFileSync(path.join(this.dir, `kafka-${nodeId}`, `kafka-${nodeId}.pid`), 'utf8').trim());
  }

  /** Signals node `nodeId` and waits until its process is gone (SIGKILL: at once). */
  async stopNode(nodeId: number, signal: 'SIGKILL' | 'SIGTERM', timeoutMs = 60_000): Promise<void> {
    const pid = this.pid(nodeId);
    process.kill(pid, signal);
    const t0 = Date.now();
    for (;;) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      if (Date.now() - t0 > timeoutMs) throw new Error(`node ${nodeId} (pid ${pid}) still running ${timeoutMs} ms after ${signal}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  #killAll(): void {
    for (const c of ['controller', 'kafka-1', 'kafka-2', 'kafka-3']) {
      try { process.kill(Number(fs.readFileSync(path.join(this.dir, c, `${c}.pid`), 'utf8')), 'SIGKILL'); } catch { /* not running */ }
    }
  }

  log(nodeId: number): string { return path.join(this.dir, `kafka-${nodeId}`, 'kafka.log'); }

  async destroy(): Promise<void> {
    await this.stack('down', '--wipe').catch(() => {});
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
