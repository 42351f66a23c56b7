// SIGKILL of a process running KafkaSink with the disk spool, then a new
// process on the same spool directory: every record the first one's push()
// accepted before the kill reaches the topic; duplicates (records Kafka took
// whose acknowledgement the cursor had not yet recorded) are bounded by what
// the second process replays. A private broker, so its outage is the test's.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { integrationTest } from '../helpers/require.ts';
import type { SinkStats } from '../../producer/sink/sink.ts';
import { consume, uniqueName } from './helpers.ts';
import type { Consumed } from './helpers.ts';
import { PrivateBroker } from './private-broker.ts';

const CHILD = path.join(import.meta.dirname, 'fixtures', 'spool-child.ts');
const eventId = (m: Consumed): string => (JSON.parse(m.value.toString()) as { event: { id: string } }).event.id;
const idOf = (i: number): string => `evt-${String(i).padStart(8, '0')}`;

type Said = { ready?: boolean; replayed?: number; pushed?: number; flushed?: boolean; stats?: SinkStats };

/** The child sink: send() a command, next() the next line it printed matching `want`. */
class Child {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly said: Said[] = [];
  #waiters: Array<{ want: (s: Said) => boolean; resolve: (s: Said) => void }> = [];
  readonly exited: Promise<void>;

  constructor(overrides: unknown) {
    this.proc = spawn(process.execPath, [CHILD, JSON.stringify(overrides)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    this.exited = new Promise((resolve) => this.proc.on('exit', () => resolve()));
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
      if (!line.startsWith('{"')) { process.stderr.write(`child: ${line}\n`); return; } // not one of ours
      const s = JSON.parse(line) as Said;
      this.said.push(s);
      this.#waiters = this.#waiters.filter((w) => (w.want(s) ? (w.resolve(s), false) : true));
    });
  }

  send(cmd: unknown): void { this.proc.stdin.write(JSON.stringify(cmd) + '\n'); }

  /** Rejects when the child exits first. */
  next(want: (s: Said) => boolean): Promise<Said> {
    return Promise.race([
      new Promise<Said>((resolve) => this.#waiters.push({ want, resolve })),
      this.exited.then(() => { throw new Error(`the child exited (${this.proc.exitCode ?? this.proc.signalCode})`); }),
    ]);
  }

  /** The highest record number whose push() returned, as printed. */
  get pushed(): number { return Math.max(0, ...this.said.map((s) => s.pushed ?? 0)); }

  async kill(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.exited;
  }
}

function overrides(topic: string, broker: PrivateBroker, dir: string): unknown {
  return {
    encoding: { format: 'ecs-json' },
    kafka: {
      topic, brokers: broker.brokers, topicPartitions: 1, topicReplicationFactor: 1, requestTimeoutMs: 5000,
      retry: { retries: 2, initialRetryTimeMs: 100, maxRetryTimeMs: 1000 }, batch: { maxRecords: 200, lingerMs: 5 },
    },
    queue: { maxRecords: 500 },
    spool: { directory: dir, segmentBytes: 256 * 1024, maxBytes: 64 * 1024 * 1024 },
    log: { level: 'warn' },
  };
}

/** Every record the first process accepted, then the second's, in order (first occurrences); returns the duplicates. */
function check(t: ExecutionContext, msgs: Consumed[], firstPushed: number, firstMax: number, second: [number, number]): number {
  const ids = msgs.map(eventId);
  const seen = new Set(ids);
  const missing = Array.from({ length: firstPushed }, (_, i) => idOf(i)).filter((id) => !seen.has(id));
  t.deepEqual(missing, [], 'every record pushed before the kill arrived');
  for (let i = second[0]; i < second[1]; i++) if (!seen.has(idOf(i))) { t.fail(`${idOf(i)} of the second process missing`); break; }
  const firsts = [...new Set(ids)];
  t.deepEqual(firsts, [...firsts].sort(), 'in push order (one partition)');
  t.true(firsts.every((id) => id <= idOf(firstMax - 1) || (id >= idOf(second[0]) && id < idOf(second[1]))), 'nothing else');
  return ids.length - seen.size;
}

let broker: PrivateBroker | null = null;

await integrationTest('SIGKILL while Kafka is down, restart on the same spool: every record pushed before the kill arrives, no duplicates', ['kafka'], async (t) => {
  t.timeout(300_000);
  broker ??= await PrivateBroker.create();
  const topic = uniqueName('spool-crash-down');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-spool-crash-'));
  const first = new Child(overrides(topic, broker, dir));
  await first.next((s) => s.ready === true);
  first.send({ push: [0, 2000] });
  await first.next((s) => s.pushed === 2000);
  first.send({ flush: 30_000 });
  t.true((await first.next((s) => s.flushed !== undefined)).flushed);
  await broker.stop('SIGKILL');
  first.send({ push: [2000, 100_000] });
  await first.next((s) => (s.pushed ?? 0) >= 8000);
  await first.kill();
  const accepted = first.pushed;
  await broker.start();

  const second = new Child(overrides(topic, broker, dir));
  const ready = await second.next((s) => s.ready === true);
  t.true((ready.replayed ?? 0) >= accepted - 2000, `replayed ${ready.replayed}: what the outage left unacknowledged`);
  second.send({ push: [1_000_000, 1_001_000] });
  await second.next((s) => s.pushed === 1_001_000);
  second.send({ stop: 60_000 });
  const { stats } = await second.next((s) => s.stats !== undefined);
  await second.exited;
  t.is(stats?.droppedTotal, 0);
  const msgs = await consume(topic, accepted + 1000, { brokers: broker.brokers, timeoutMs: 120_000, settleMs: 1500 });
  const duplicates = check(t, msgs, accepted, accepted + 100, [1_000_000, 1_001_000]);
  // the cursor was written after the last ack, long before the kill: nothing acknowledged is sent again
  t.is(duplicates, 0);
  t.log(`accepted before the kill: ${accepted}; replayed by the second process: ${ready.replayed}; duplicates: ${duplicates}`);
}, { serial: true });

await integrationTest('SIGKILL while acknowledgements flow, restart on the same spool: nothing lost, duplicates within what was replayed', ['kafka'], async (t) => {
  t.timeout(300_000);
  broker ??= await PrivateBroker.create();
  const topic = uniqueName('spool-crash-up');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-spool-crash-'));
  const first = new Child(overrides(topic, broker, dir));
  await first.next((s) => s.ready === true);
  first.send({ push: [0, 100_000] });
  await first.next((s) => (s.pushed ?? 0) >= 6000);
  await first.kill();
  const accepted = first.pushed;

  const second = new Child(overrides(topic, broker, dir));
  const ready = await second.next((s) => s.ready === true);
  second.send({ push: [1_000_000, 1_001_000] });
  await second.next((s) => s.pushed === 1_001_000);
  second.send({ stop: 60_000 });
  const { stats } = await second.next((s) => s.stats !== undefined);
  await second.exited;
  t.is(stats?.droppedTotal, 0);
  const msgs = await consume(topic, accepted + 1000, { brokers: broker.brokers, timeoutMs: 120_000, settleMs: 1500 });
  const duplicates = check(t, msgs, accepted, accepted + 100, [1_000_000, 1_001_000]);
  t.true(duplicates <= (ready.replayed ?? 0), `duplicates (${duplicates}) are replayed records (${ready.replayed})`);
  t.is(stats?.spool?.replayed, ready.replayed, 'counted in the stats');
  t.log(`accepted before the kill: ${accepted}; replayed: ${ready.replayed}; duplicates: ${duplicates}`);
}, { serial: true });

test.after.always(async () => { await broker?.destroy(); });
