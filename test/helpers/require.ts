/**
 * Declaring tests that need something outside the test process: a Kafka
 * broker, the schema registry, root, or a BPF-capable kernel.
 *
 *   import { integrationTest, KAFKA_BROKERS, REGISTRY_URL } from '../helpers/require.ts';
 *
 *   await integrationTest('produces to Kafka', ['kafka', 'registry'], async (t) => {
 *     // ... runs only when every need is met
 *   });
 *
 * When a need is not met:
 *  - with CONNTRAIL_REQUIRE_INTEGRATION=1 (CI sets it) the test is declared and
 *    FAILS, naming what is missing and how to get it (e.g. `bash stack/stack.sh up`);
 *  - otherwise it is declared with `test.skip` (ava lists it as skipped) and a
 *    one-line note goes to the console.
 *
 * Checks (each runs once per test file and is cached):
 *  - kafka:    TCP connect to one of CONNTRAIL_KAFKA_BROKERS (default: the
 *              local stack's, producer/local-stack.ts) succeeds within 2 s
 *  - registry: GET <CONNTRAIL_REGISTRY_URL>/subjects (default: the local
 *              stack's) answers 200 within 2 s
 *  - root:     process.getuid() === 0
 *  - bpf:      root, and /sys/kernel/btf/vmlinux exists (CO-RE needs BTF)
 *  - vm:       qemu-system-x86_64 runs (tools/vm/run.sh; .ci/setup installs it)
 *
 * Use it with top-level `await` in the test file so ava sees the declaration.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import test, { type ExecutionContext, type ImplementationFn } from 'ava';
import { LOCAL_BROKERS, LOCAL_REGISTRY_URL } from '../../producer/local-stack.ts';

export type Need = 'kafka' | 'registry' | 'root' | 'bpf' | 'vm';

/** Broker list for tests, comma-separated host:port (env CONNTRAIL_KAFKA_BROKERS). */
export const KAFKA_BROKERS: string = process.env.CONNTRAIL_KAFKA_BROKERS ?? LOCAL_BROKERS.join(',');
/** Confluent-compatible registry base URL (env CONNTRAIL_REGISTRY_URL). */
export const REGISTRY_URL: string = (
  process.env.CONNTRAIL_REGISTRY_URL ?? LOCAL_REGISTRY_URL
).replace(/\/+$/, '');

/** True when CI (or you) asked for integration tests to fail instead of skip. */
export function integrationRequired(): boolean {
  return process.env.CONNTRAIL_REQUIRE_INTEGRATION === '1';
}

export function brokerList(brokers: string = KAFKA_BROKERS): string[] {
  return brokers
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
}

function tcpReachable(hostPort: string, timeoutMs: number): Promise<boolean> {
  const i = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(hostPort.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const checks: Record<Need, () => Promise<string | undefined>> = {
  async kafka() {
    const brokers = brokerList();
    for (const b of brokers) if (await tcpReachable(b, 2000)) return undefined;
    return `Kafka not reachable at ${brokers.join(',')} (start it: bash stack/stack.sh up)`;
  },
  async registry() {
    const url = `${REGISTRY_URL}/subjects`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      if (res.status === 200) return undefined;
      return `schema registry at ${url} answered HTTP ${res.status}`;
    } catch (err) {
      const cause = err instanceof Error ? (err.cause as { code?: string } | undefined)?.code : undefined;
      const why = err instanceof Error ? `${err.message}${cause ? ` (${cause})` : ''}` : String(err);
      return `schema registry not reachable at ${url}: ${why} (start it: bash stack/stack.sh up)`;
    }
  },
  async root() {
    return process.getuid?.() === 0 ? undefined : 'needs root (uid 0)';
  },
  async bpf() {
    if (process.getuid?.() !== 0) return 'BPF needs root (uid 0)';
    return existsSync('/sys/kernel/btf/vmlinux') ? undefined : 'BPF needs kernel BTF (/sys/kernel/btf/vmlinux missing)';
  },
  async vm() {
    const r = spawnSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' });
    return r.status === 0 ? undefined : 'the VM tests need qemu-system-x86_64 (apt-get install qemu-system-x86, or bash .ci/setup)';
  },
};

const cache = new Map<Need, Promise<string | undefined>>();

/** What is missing among `needs`, one human-readable reason each; [] when all are met. */
export async function missingNeeds(needs: readonly Need[]): Promise<string[]> {
  const reasons = await Promise.all(
    needs.map((n) => {
      let p = cache.get(n);
      if (!p) {
        p = checks[n]();
        cache.set(n, p);
      }
      return p;
    }),
  );
  return reasons.filter((r): r is string => r !== undefined);
}

export interface IntegrationOptions {
  /** Declare with test.serial instead of test. */
  serial?: boolean;
}

/**
 * Declare an ava test that runs only when `needs` are met; see the file comment
 * for what happens otherwise. Returns the list of missing needs ([] if it runs).
 */
export async function integrationTest(
  title: string,
  needs: readonly Need[],
  fn: ImplementationFn<[]>,
  options: IntegrationOptions = {},
): Promise<string[]> {
  const missing = await missingNeeds(needs);
  const declare = options.serial ? test.serial : test;
  if (missing.length === 0) {
    declare(title, fn);
  } else if (integrationRequired()) {
    declare(title, (t: ExecutionContext) => {
      t.fail(`CONNTRAIL_REQUIRE_INTEGRATION=1 but: ${missing.join('; ')}`);
    });
  } else {
    console.log(`[skip] ${title}: ${missing.join('; ')} (set CONNTRAIL_REQUIRE_INTEGRATION=1 to fail instead)`);
    test.skip(title, fn);
  }
  return missing;
}
