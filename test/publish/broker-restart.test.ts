// Broker restarted mid-stream -> nothing lost. stack.sh cannot stop Kafka alone,
// so these tests run a private broker (same jars, own ports and data) and stop /
// start it while KafkaSink keeps pushing.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { integrationTest } from '../helpers/require.ts';
import { KafkaSink } from '../../producer/sink/sink.ts';
import { EcsJsonEncoder } from '../../producer/encode/ecs.ts';
import { consume, stackConfig, testRecords, topicMessageCount, uniqueName } from './helpers.ts';
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
    const inTopic = await topicMessageCount(topic, broker.brokers);
    const msgs = await consume(topic, total, { brokers: broker.brokers, timeoutMs: 60_000, settleMs: 1500 });
    return { flushed, stats, whileDown, msgs, records, inTopic };
  } finally {
    await sink.stop(2000);
    await broker.destroy();
  }
}

/** Nothing lost; per key, first occurrences in push order; no more duplicates than records re-sent. */
function checkDelivery(t: ExecutionContext, msgs: Consumed[], total: number, maxDuplicates: number): number {
  const ids = msgs.map(eventId);
  t.is(new Set(ids).size, total, 'every record arrived');
  const duplicates = ids.length - total;
  t.true(duplicates <= maxDuplicates, `duplicates (${duplicates}) stay within ${maxDuplicates}`);
  const perKey = new Map<string, string[]>();
  const first = new Set<string>();
  for (const m of msgs) {
    const id = eventId(m);
    if (first.has(id)) continue;
    first.add(id);
    perKey.set(m.key as string, [...(perKey.get(m.key as string) ?? []), id]);
  }
  for (const [key, list] of perKey) t.deepEqual(list, [...list].sort(), `order of ${key}`);
  return duplicates;
}

// Exactly once is what the idempotent producer promises, but not what a single-node
// Kafka 4.4 restart gives: when the broker stops, a request can be answered
// NOT_LEADER for one partition after others were appended; kafkajs then resends
// the whole request (it rolls back the sequence numbers of every partition), and
// the restarted broker, whose producer state snapshot predates those appends,
// accepts the resent batches again (seen with DumpLogSegments: the same
// baseSequence at two offsets). So the test asserts "nothing lost, in order,
// duplicates only as one re-sent request" and reports the duplicates.
await integrationTest('broker restarted mid-stream (clean stop), idempotent producer: nothing lost, per-key order kept', ['kafka'], async (t) => {
  t.timeout(240_000);
  const { flushed, stats, whileDown, msgs, records, inTopic } = await restartScenario(true, 'SIGTERM');
  t.true(flushed);
  t.true(whileDown.queue.records > 0 || whileDown.retrying, 'records waited in the queue while the broker was down');
  t.is(stats.droppedTotal, 0);
  t.true(stats.publishErrors > 0, 'sends failed while the broker was down');
  t.is(inTopic, msgs.length, 'the consumer saw everything the broker holds');
  const duplicates = checkDelivery(t, msgs, records.length, 200);
  t.log(`duplicates after the clean restart: ${duplicates}`);
});

await integrationTest('broker killed (SIGKILL) mid-stream and restarted: nothing lost, per-key order kept', ['kafka'], async (t) => {
  t.timeout(240_000);
  const { flushed, stats, msgs, records, inTopic } = await restartScenario(false, 'SIGKILL');
  t.true(flushed);
  t.is(stats.droppedTotal, 0);
  t.is(inTopic, msgs.length);
  // without idempotence each resend of a batch whose earlier send was appended
  // (ack lost in the crash, or timed out while the broker recovered) adds a copy
  const duplicates = checkDelivery(t, msgs, records.length, stats.resent.records);
  t.log(`duplicates after the crash: ${duplicates} (records re-sent: ${stats.resent.records})`);
});

await integrationTest('stop() while the broker is down returns in bounded time and counts what was not published', ['kafka'], async (t) => {
  t.timeout(120_000);
  const broker = await PrivateBroker.create();
  const topic = uniqueName('down-stop');
  const cfg = stackConfig(topic, {
    encoding: { format: 'ecs-json' },
    kafka: { brokers: broker.brokers, retry: { retries: 3, initialRetryTimeMs: 200, maxRetryTimeMs: 2000 }, batch: { maxRecords: 100 } },
  });
  const sink = new KafkaSink(cfg, new EcsJsonEncoder());
  try {
    await sink.start();
    sink.push(testRecords(200));
    t.true(await sink.flush(20_000));
    await broker.stop('SIGKILL');
    sink.push(testRecords(500, { from: 200 }));
    await sleep(500);
    const t0 = Date.now();
    await sink.stop(1500);
    const took = Date.now() - t0;
    t.true(took < 8000, `stop took ${took} ms`);
    const s = sink.stats();
    t.is(s.published.records, 200);
    t.is(s.drops.shutdown_unflushed, 500);
    t.is(s.pushed, s.published.records + s.droppedTotal);
  } finally {
    await broker.destroy();
  }
});
