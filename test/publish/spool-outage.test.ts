// A Kafka outage longer than the memory queue holds, on a private broker
// (stopped and started by the test): with the disk spool nothing is lost and
// the topic holds every record once, in order; without it the same outage
// loses records to the full queue (so the first test cannot pass by the
// spool doing nothing).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { integrationTest } from '../helpers/require.ts';
import { KafkaSink } from '../../producer/sink/sink.ts';
import type { SinkStats } from '../../producer/sink/sink.ts';
import { EcsJsonEncoder } from '../../producer/encode/ecs.ts';
import { consume, stackConfig, testRecords, topicMessageCount, uniqueName } from './helpers.ts';
import type { Consumed } from './helpers.ts';
import { PrivateBroker } from './private-broker.ts';

const eventId = (m: Consumed): string => (JSON.parse(m.value.toString()) as { event: { id: string } }).event.id;
const QUEUE = 500;
const BEFORE = 1000;
const DURING = 25 * QUEUE; // 12,500 pushed while the broker is down
const AFTER = 1000;
const TOTAL = BEFORE + DURING + AFTER;

async function outage(broker: PrivateBroker, spoolDir: string): Promise<{ stats: SinkStats; whileDown: SinkStats; msgs: Consumed[]; flushed: boolean; inTopic: number }> {
  const topic = uniqueName('spool-outage');
  const cfg = stackConfig(topic, {
    encoding: { format: 'ecs-json' },
    kafka: {
      brokers: broker.brokers, topicPartitions: 1, requestTimeoutMs: 5000,
      retry: { retries: 2, initialRetryTimeMs: 100, maxRetryTimeMs: 1000 }, batch: { maxRecords: 200, lingerMs: 5 },
    },
    queue: { maxRecords: QUEUE },
    spool: { directory: spoolDir, segmentBytes: 256 * 1024, maxBytes: 64 * 1024 * 1024 },
  });
  const sink = new KafkaSink(cfg, new EcsJsonEncoder());
  const records = testRecords(TOTAL, { pids: 7 });
  let pushed = 0;
  const pushUpTo = async (n: number): Promise<void> => {
    while (pushed < n) {
      sink.push(records.slice(pushed, pushed + 100));
      pushed += 100;
      await sleep(2);
    }
  };
  try {
    await sink.start();
    await pushUpTo(BEFORE);
    await sink.flush(30_000);
    await broker.stop('SIGKILL');
    await pushUpTo(BEFORE + DURING);
    const whileDown = sink.stats();
    await broker.start();
    await pushUpTo(TOTAL);
    const flushed = await sink.flush(120_000);
    const stats = sink.stats();
    const inTopic = await topicMessageCount(topic, broker.brokers);
    const msgs = await consume(topic, TOTAL, { brokers: broker.brokers, timeoutMs: 120_000, settleMs: 1500 });
    return { stats, whileDown, msgs, flushed, inTopic };
  } finally {
    await sink.stop(2000);
  }
}

let broker: PrivateBroker | null = null;
const privateBroker = async (): Promise<PrivateBroker> => (broker ??= await PrivateBroker.create());

await integrationTest('an outage of 25x the memory queue with the disk spool: every record on the topic once, in order, 0 drops', ['kafka'], async (t) => {
  t.timeout(300_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-spool-outage-'));
  const b = await privateBroker();
  const { stats, whileDown, msgs, flushed, inTopic } = await outage(b, dir);
  t.true(flushed);
  t.is(stats.published.records, TOTAL);
  t.is(inTopic, TOTAL, 'the broker holds each record once');
  t.true((whileDown.spool?.diskOnly ?? 0) > DURING - 2 * QUEUE, `records waited on disk only (${whileDown.spool?.diskOnly})`);
  t.is(whileDown.queue.records, QUEUE, 'the memory queue was full');
  t.is(stats.droppedTotal, 0);
  const ids = msgs.map(eventId);
  t.is(ids.length, TOTAL, 'no duplicates');
  t.deepEqual(ids, testRecords(TOTAL).map((r) => r.eventId), 'every record once, in push order (one partition)');
  t.is(stats.spool?.records, 0, 'all acknowledged');
  t.is(stats.spool?.segments, 1, 'acknowledged segments deleted');
  t.log(`spool at the outage's end: ${whileDown.spool?.records} records, ${whileDown.spool?.bytes} bytes in ${whileDown.spool?.segments} segments`);
  fs.rmSync(dir, { recursive: true, force: true });
}, { serial: true });

await integrationTest('the same outage without the spool loses what the memory queue cannot hold (queue_full_records)', ['kafka'], async (t) => {
  t.timeout(300_000);
  const b = await privateBroker();
  const { stats, msgs, flushed } = await outage(b, '');
  t.true(flushed);
  t.is(stats.spool, null);
  t.true(stats.drops.queue_full_records > DURING - 2 * QUEUE, `${stats.drops.queue_full_records} dropped`);
  t.is(new Set(msgs.map(eventId)).size + stats.droppedTotal, TOTAL, 'every record published or counted');
}, { serial: true });

test.after.always(async () => { await broker?.destroy(); });
