// Fast failover (issue 13, part 3): a partition leader of a 3-broker cluster dies
// while KafkaSink publishes a steady numbered stream (acks=all, idempotent: the
// defaults; kafka.retry.* at their defaults too) to a topic with replication
// factor 3 and min.insync.replicas 2. Nothing may be lost, and acknowledgements
// may stop for at most 5 s (the bound): the cluster fences a crashed
// broker after 2 s (CONNTRAIL_STACK_SESSION_TIMEOUT_MS, test/publish/cluster.ts),
// and the client must find the new leader within about a second of its election.
// The cluster is the test's own (stack.sh up --brokers 3 in a private
// directory, on free ports), stopped at the end even when a test fails.
//
// SIGKILL on a 1-partition topic: the dead leader's partition is all a send
// holds, so only the client's retries decide when it reaches the new leader
// (kafkajs's backoff, unpatched and with kafka.retry.maxRetryTimeMs as its
// bound, found it 5 s after the election). SIGTERM on 3 partitions: the moved
// partition goes to a broker that answered for its own in the same send, where
// kafkajs's per-broker bookkeeping lost it (26 of 18,700 records).
// Each test logs the election time (signal -> the survivors name a new leader)
// apart from the client's reaction (new leader -> first ack).
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import { loadConfig } from '../../producer/config/load.ts';
import { EcsJsonEncoder } from '../../producer/encode/ecs.ts';
import { KafkaSink } from '../../producer/sink/sink.ts';
import { integrationTest } from '../helpers/require.ts';
import { TestCluster } from './cluster.ts';
import { consume, testKafka, testRecords, uniqueName } from './helpers.ts';

const MAX_ACK_GAP_MS = 5000;
/** Records per tick, and the tick: 1,000 records/s. */
const PER_TICK = 20;
const TICK_MS = 20;

let cluster: Promise<TestCluster> | undefined;
const theCluster = (): Promise<TestCluster> => (cluster ??= TestCluster.start());

interface Outcome {
  pushed: number;
  missing: number;
  duplicates: number;
  maxAckGapMs: number;
  /** Signal to the moment the survivors' metadata named a new leader for partition 0. */
  electionMs: number;
  /** New leader named -> first acknowledgement after it. */
  reactionMs: number;
  dropped: number;
  resentRecords: number;
  replicas: number[];
  minInsync: string | undefined;
}

/** A topic's config value, asked again while the broker asked has not heard of the new topic yet. */
async function topicConfig(admin: Admin, topic: string, name: string): Promise<string | undefined> {
  for (let tries = 0; ; tries++) {
    try {
      const configs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic }] });
      return configs.resources[0]?.configEntries.find((e) => e.configName === name)?.configValue;
    } catch (err) {
      if ((err as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION' || tries >= 50) throw err;
      await sleep(200);
    }
  }
}

async function failover(c: TestCluster, signal: 'SIGKILL' | 'SIGTERM', partitions: number): Promise<Outcome> {
  const topic = uniqueName(`failover-${signal.toLowerCase()}`);
  const cfg = loadConfig({
    env: {},
    // kafka.retry.* and the acks/idempotence settings stay at their defaults: what a user runs
    overrides: { encoding: { format: 'ecs-json' }, kafka: { brokers: c.brokers, topic, topicPartitions: partitions, batch: { lingerMs: 5 } } },
  }).config;
  const acks: number[] = [];
  const sink = new KafkaSink(cfg, new EcsJsonEncoder(), undefined, {
    hooks: { onBatchSent: (_b, ack) => { acks.push(ack.ackedAt); } },
  });
  const admin = testKafka(c.brokers, { retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 200 }, connectionTimeout: 500, requestTimeout: 2000 }).admin();
  const records = testRecords(60_000, { pids: 7 });
  let pushed = 0;
  let ticker: NodeJS.Timeout | undefined;
  try {
    await sink.start();
    ticker = setInterval(() => {
      if (pushed >= records.length) return;
      sink.push(records.slice(pushed, pushed + PER_TICK));
      pushed += PER_TICK;
    }, TICK_MS);
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    const layout = meta.topics[0]!.partitions;
    const minInsync = await topicConfig(admin, topic, 'min.insync.replicas');
    await sleep(3000);
    const victim = layout.find((p) => p.partitionId === 0)!.leader;
    const tSignal = Date.now();
    const stopped = c.stopNode(victim, signal);
    // the survivors' view of partition 0's leader, polled
    let tElected = 0;
    while (Date.now() - tSignal < 60_000) {
      try {
        const m = await admin.fetchTopicMetadata({ topics: [topic] });
        const leader = m.topics[0]!.partitions.find((p) => p.partitionId === 0)!.leader;
        if (leader >= 0 && leader !== victim) { tElected = Date.now(); break; }
      } catch { /* the dead node's connection, or no leader yet */ }
      await sleep(100);
    }
    await stopped;
    await sleep(8000);
    clearInterval(ticker);
    await sink.flush(120_000);
    const stats = sink.stats();
    let maxAckGapMs = 0;
    for (let i = 1; i < acks.length; i++) maxAckGapMs = Math.max(maxAckGapMs, acks[i]! - acks[i - 1]!);
    const firstAckAfter = acks.find((a) => a >= tElected) ?? Number.NaN;
    const msgs = await consume(topic, pushed, { brokers: c.brokers, timeoutMs: 60_000, settleMs: 1000 });
    const seen = new Set(msgs.map((m) => (JSON.parse(m.value.toString()) as { event: { id: string } }).event.id));
    const missing = records.slice(0, pushed).filter((r) => !seen.has(r.eventId)).length;
    return {
      pushed, missing, duplicates: msgs.length - seen.size, maxAckGapMs,
      electionMs: tElected ? tElected - tSignal : Number.NaN,
      reactionMs: firstAckAfter - tElected,
      dropped: stats.droppedTotal, resentRecords: stats.resent.records,
      replicas: layout.map((p) => p.replicas.length), minInsync,
    };
  } finally {
    clearInterval(ticker);
    await sink.stop(2000);
    await admin.disconnect().catch(() => {});
  }
}

function report(o: Outcome): string {
  return `pushed ${o.pushed}, missing ${o.missing}, duplicates ${o.duplicates} (re-sent ${o.resentRecords}); ` +
    `new leader named ${o.electionMs} ms after the signal, first ack ${o.reactionMs} ms after that; largest ack gap ${o.maxAckGapMs} ms`;
}

await integrationTest('partition leader killed (SIGKILL) in a 3-broker cluster: nothing lost, acks resume within 5 s', ['kafka'], async (t) => {
  t.timeout(300_000);
  const c = await theCluster();
  const o = await failover(c, 'SIGKILL', 1);
  t.log(report(o));
  t.deepEqual(o.replicas, [3], 'the topic has replication factor 3 (the cluster default)');
  t.is(o.minInsync, '2', 'min.insync.replicas is 2 (the cluster default)');
  t.is(o.dropped, 0);
  t.is(o.missing, 0, 'every record is in the topic');
  t.true(o.maxAckGapMs <= MAX_ACK_GAP_MS, `largest gap between acks ${o.maxAckGapMs} ms (at most ${MAX_ACK_GAP_MS})`);
}, { serial: true });

await integrationTest('partition leader stopped (SIGTERM, controlled shutdown) in a 3-broker cluster: nothing lost, acks resume within 5 s', ['kafka'], async (t) => {
  t.timeout(300_000);
  const c = await theCluster();
  await c.stack('up', '--brokers', '3', '--no-registry'); // the node the other test killed comes back
  const o = await failover(c, 'SIGTERM', 3);
  t.log(report(o));
  t.is(o.dropped, 0);
  t.is(o.missing, 0, 'every record is in the topic');
  t.true(o.maxAckGapMs <= MAX_ACK_GAP_MS, `largest gap between acks ${o.maxAckGapMs} ms (at most ${MAX_ACK_GAP_MS})`);
}, { serial: true });

// declared after the tests: integrationTest awaits its checks first, and ava takes no
// declarations once the file's synchronous part has declared something
test.after.always(async () => {
  const c = await cluster?.catch(() => undefined);
  await c?.destroy();
});
