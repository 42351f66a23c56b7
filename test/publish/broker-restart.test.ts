// Broker restarted mid-stream -> nothing lost. stack.sh cannot stop Kafka alone,
// so these tests run a private broker (same jars, own ports and data) and stop /
// start it while KafkaSink keeps pushing.
import { setTimeout as sleep } from 'node:timers/promises';
import { integrationTest } from '../helpers/require.ts';
import { KafkaSink } from '../../producer/sink/sink.ts';
import { EcsJsonEncoder } from '../../producer/encode/ecs.ts';
import { consume, stackConfig, testRecords, uniqueName } from './helpers.ts';
import type { Consumed } from './helpers.ts';
import { PrivateBroker } from './private-broker.ts';

const eventId = (m: Consumed): string => (JSON.parse(m.value.toString()) as { event: { id: string } }).event.id;

async function restartScenario(idempotent: boolean, signal: 'SIGTERM' | 'SIGKILL') {
  const broker = await PrivateBroker.create();
  const topic = uniqueName('restart');
  const cfg = stackConfig(topic, {
    encoding: { format: 'ecs-json' },
    kafka: {
      brokers: broker.brokers, idempotent, acks: -1, keyStrategy: 'process', topicPartitions: 3,
      requestTimeoutMs: 5000, retry: { retries: 2, initialRetryTimeMs: 100, maxRetryTimeMs: 1000 },
      batch: { maxRecords: 200, lingerMs: 5 },
    },
  });
  const sink = new KafkaSink(cfg, new EcsJsonEncoder());
  await sink.start();
  const total = 8000;
  const records = testRecords(total, { pids: 9 });
  let pushed = 0;
  const pushSome = (n: number): void => {
    sink.push(records.slice(pushed, pushed + n));
    pushed += n;
  };
  try {
    while (pushed < 2000) { pushSome(100); await sleep(10); } // Kafka up
    const stopping = broker.stop(signal);
    while (pushed < 5000) { pushSome(100); await sleep(10); } // Kafka going down / down
    await stopping;
    const whileDown = sink.stats();
    await sleep(1500);
    await broker.start();
    while (pushed < total) { pushSome(100); await sleep(10); } // Kafka back
    const flushed = await sink.flush(90_000);
    const stats = sink.stats();
    const msgs = await consume(topic, total, { brokers: broker.brokers, timeoutMs: 60_000, settleMs: 1500 });
    return { flushed, stats, whileDown, msgs, records };
  } finally {
    await sink.stop(2000);
    await broker.destroy();
  }
}

await integrationTest('broker restarted mid-stream (clean stop), idempotent producer: every record exactly once, per-key order kept', ['kafka'], async (t) => {
  t.timeout(240_000);
  const { flushed, stats, whileDown, msgs, records } = await restartScenario(true, 'SIGTERM');
  t.true(flushed);
  t.true(whileDown.queue.records > 0 || whileDown.retrying, 'records waited in the queue while the broker was down');
  t.is(stats.droppedTotal, 0);
  t.true(stats.publishErrors > 0, 'sends failed while the broker was down');
  const ids = msgs.map(eventId);
  t.is(new Set(ids).size, records.length, 'every record arrived');
  t.is(ids.length, records.length, 'and only once');
  // per key (process), the event ids come in the order they were pushed
  const perKey = new Map<string, string[]>();
  for (const m of msgs) perKey.set(m.key as string, [...(perKey.get(m.key as string) ?? []), eventId(m)]);
  for (const [key, list] of perKey) t.deepEqual(list, [...list].sort(), `order of ${key}`);
});

await integrationTest('broker killed (SIGKILL) mid-stream and restarted: every record arrives at least once', ['kafka'], async (t) => {
  t.timeout(240_000);
  const { flushed, stats, msgs, records } = await restartScenario(false, 'SIGKILL');
  t.true(flushed);
  t.is(stats.droppedTotal, 0);
  const ids = new Set(msgs.map(eventId));
  t.is(ids.size, records.length);
  t.log(`duplicates after the crash: ${msgs.length - ids.size}`);
});
