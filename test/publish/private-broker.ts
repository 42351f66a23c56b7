// A Kafka broker of the test's own (same jars as the local stack, through
// `stack.sh kafka-run`), on free ports with its own data directory, so a test can
// stop and restart it without disturbing the shared stack.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';

const STACK = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'stack', 'stack.sh');

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function run(args: string[], logFile: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const out = fs.openSync(logFile, 'a');
    const child = spawn('bash', [STACK, 'kafka-run', ...args], { stdio: ['ignore', out, out] });
    child.on('error', reject);
    child.on('close', (code) => { fs.closeSync(out); resolve(code); });
  });
}

/**
 * A second client listener named SECURE (e.g. SASL_SSL) beside the PLAINTEXT one
 * the broker and the readiness probe use: `properties` configure it
 * (listener.name.secure.*), `formatArgs` go to the storage format (--add-scram).
 */
export interface SecureListener {
  protocol: 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
  properties: string[];
  formatArgs?: string[];
}

export class PrivateBroker {
  readonly dir: string;
  readonly port: number;
  readonly controllerPort: number;
  /** Port of the SECURE listener, 0 without one. */
  readonly securePort: number;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();

  private constructor(dir: string, port: number, controllerPort: number, securePort: number) {
    this.dir = dir;
    this.port = port;
    this.controllerPort = controllerPort;
    this.securePort = securePort;
  }

  get brokers(): string[] { return [`127.0.0.1:${this.port}`]; }
  get secureBrokers(): string[] { return [`127.0.0.1:${this.securePort}`]; }
  get log(): string { return path.join(this.dir, 'kafka.log'); }

  /** Formats a fresh KRaft node and starts it; resolves when it answers metadata. */
  static async create(opts: { secure?: SecureListener } = {}): Promise<PrivateBroker> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-broker-'));
    const b = new PrivateBroker(dir, await freePort(), await freePort(), opts.secure ? await freePort() : 0);
    const secure = opts.secure ? `,SECURE://127.0.0.1:${b.securePort}` : '';
    fs.writeFileSync(path.join(dir, 'server.properties'), [
      'process.roles=broker,controller', 'node.id=1',
      `controller.quorum.bootstrap.servers=127.0.0.1:${b.controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${b.port},CONTROLLER://127.0.0.1:${b.controllerPort}${secure}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${b.port}${secure}`,
      'controller.listener.names=CONTROLLER', 'inter.broker.listener.name=PLAINTEXT',
      `listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${opts.secure ? `,SECURE:${opts.secure.protocol}` : ''}`,
      ...(opts.secure?.properties ?? []),
      `log.dirs=${path.join(dir, 'data')}`,
      'num.partitions=1', 'default.replication.factor=1', 'min.insync.replicas=1',
      'offsets.topic.replication.factor=1', 'offsets.topic.num.partitions=1',
      'transaction.state.log.replication.factor=1', 'transaction.state.log.min.isr=1', 'transaction.state.log.num.partitions=1',
      'share.coordinator.state.topic.replication.factor=1', 'share.coordinator.state.topic.min.isr=1',
      'group.initial.rebalance.delay.ms=0', 'num.network.threads=2', 'num.io.threads=2',
    ].join('\n') + '\n');
    const clusterId = randomBytes(16).toString('base64url');
    const code = await run(['kafka.tools.StorageTool', 'format', '--standalone', `--cluster-id=${clusterId}`, '-c', path.join(dir, 'server.properties'), ...(opts.secure?.formatArgs ?? [])], path.join(dir, 'format.log'));
    if (code !== 0) {
      const log = fs.readFileSync(path.join(dir, 'format.log'), 'utf8').slice(-1000);
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`formatting the private broker failed (${code}): ${log}`);
    }
    try {
      await b.start();
    } catch (err) {
      await b.destroy();
      throw err;
    }
    return b;
  }

  /** Starts the broker process (again) on the same ports and data. */
  async start(timeoutMs = 90_000): Promise<void> {
    if (this.#child) return;
    const out = fs.openSync(this.log, 'a');
    const child = spawn('bash', [STACK, 'kafka-run', 'kafka.Kafka', path.join(this.dir, 'server.properties')], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.#child = child;
    this.#exited = new Promise((resolve) => child.on('exit', () => { if (this.#child === child) this.#child = null; resolve(); }));
    const t0 = Date.now();
    for (;;) {
      if (!this.#child) throw new Error(`private broker exited at start; log ${this.log}`);
      if (await this.#ready()) return;
      if (Date.now() - t0 > timeoutMs) throw new Error(`private broker not ready after ${timeoutMs} ms; log ${this.log}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  async #ready(): Promise<boolean> {
    const admin = new kafkajs.Kafka({ clientId: 'probe', brokers: this.brokers, logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 1000, requestTimeout: 2000 }).admin();
    try {
      await admin.connect();
      const c = await admin.describeCluster();
      return c.brokers.length > 0;
    } catch {
      return false;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  /** Stops the broker: SIGTERM (clean shutdown) or SIGKILL (crash); waits for the exit. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', timeoutMs = 60_000): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Stops it and removes its data. */
  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
