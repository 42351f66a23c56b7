// kafkajs's sendMessages (the per-send retry loop of its producer) against the
// patched one (patches/kafkajs+2.2.4.patch, producer/sendMessages.js), on a
// cluster whose partition 0 moves from broker 1 to broker 2 during a send: the
// moment test/publish/failover.test.ts provokes on a real cluster, here made
// deterministic. kafkajs as published resolves the send without ever sending
// partition 0 again (its records lost, acknowledged); patched, the retry sends
// it to its new leader, and only it.
import { createRequire } from 'node:module';
import path from 'node:path';
import test from 'ava';
import { KAFKAJS_SRC as src, pristine } from '../helpers/kafkajs-pristine.ts';

const require = createRequire(import.meta.url);

type SendMessages = (o: object) => (args: object) => Promise<{ topicName: string; partition: number }[]>;
const original = pristine<SendMessages>('producer/sendMessages.js');
const patched = require(path.join(src, 'producer/sendMessages.js')) as SendMessages;
const createRetry = require(path.join(src, 'retry/index.js')) as (o: object) => unknown;
const { createErrorFromCode } = require(path.join(src, 'protocol/error.js')) as { createErrorFromCode(code: number): Error };
const NOT_LEADER_FOR_PARTITION = 6;

interface Produced { broker: number; partitions: number[] }

/** Partition 1 led by broker 2; partition 0 moved from broker 1 to 2, which the client's metadata shows after its next refresh. */
function movingLeaderCluster() {
  /** The client's metadata. */
  const leaders: Record<number, number> = { 0: 1, 1: 2 };
  /** The brokers' truth. */
  const actual: Record<number, number> = { 0: 2, 1: 2 };
  const produced: Produced[] = [];
  const broker = (nodeId: number) => ({
    nodeId,
    async produce({ topicData }: { topicData: { topic: string; partitions: { partition: number }[] }[] }) {
      const partitions = topicData.flatMap((t) => t.partitions.map((p) => p.partition));
      produced.push({ broker: nodeId, partitions });
      if (partitions.some((p) => actual[p] !== nodeId)) throw createErrorFromCode(NOT_LEADER_FOR_PARTITION);
      return { topics: topicData.map((t) => ({ topicName: t.topic, partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0' })) })) };
    },
  });
  const brokers = { 1: broker(1), 2: broker(2) } as Record<string, ReturnType<typeof broker>>;
  let refreshes = 0;
  const cluster = {
    targetTopics: new Set(['t']),
    async addMultipleTargetTopics() {},
    async refreshMetadataIfNecessary() {},
    async refreshMetadata() { refreshes++; },
    findTopicPartitionMetadata: () => [0, 1].map((partitionId) => ({ partitionId, leader: leaders[partitionId] })),
    findLeaderForPartitions(_topic: string, partitions: string[]) {
      const out: Record<number, number[]> = {};
      for (const p of partitions.map(Number)) (out[leaders[p]!] ??= []).push(p);
      return out;
    },
    async findBroker({ nodeId }: { nodeId: string }) { return brokers[nodeId]; },
    isConnected: () => true,
    removeBroker() {},
  };
  const eosManager = {
    isTransactional: () => false,
    async acquireBrokerLock() {},
    async releaseBrokerLock() {},
    getSequence: () => 0,
    updateSequence() {},
    getProducerId: () => -1,
    getProducerEpoch: () => 0,
  };
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  return {
    produced,
    refreshes: () => refreshes,
    options: {
      logger, cluster, eosManager,
      partitioner: ({ message }: { message: { partition: number } }) => message.partition,
      retrier: createRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 5 }),
    },
    // the moment the metadata shows the new leader
    move() { leaders[0] = 2; },
  };
}

async function sendBoth(sendMessages: SendMessages) {
  const c = movingLeaderCluster();
  const refreshMetadata = c.options.cluster.refreshMetadata;
  c.options.cluster.refreshMetadata = async () => { c.move(); await refreshMetadata(); };
  const result = await sendMessages(c.options)({
    acks: -1, timeout: 1000, compression: 0,
    topicMessages: [{ topic: 't', messages: [{ partition: 0, value: 'a' }, { partition: 1, value: 'b' }] }],
  });
  return { result, produced: c.produced, refreshes: c.refreshes() };
}

test('kafkajs as published: a partition whose leader moved to a broker that had answered is never sent again', async (t) => {
  const { result, produced } = await sendBoth(original);
  // the send resolved, but partition 0 went only to broker 1, which refused it
  t.deepEqual(produced.filter((p) => p.partitions.includes(0)).map((p) => p.broker), [1]);
  t.deepEqual(result.map((r) => r.partition), [1]);
});

test('patched: the retry sends the unacknowledged partition to its new leader, and only it', async (t) => {
  const { result, produced, refreshes } = await sendBoth(patched);
  t.deepEqual(produced.filter((p) => p.partitions.includes(0)).map((p) => p.broker), [1, 2]);
  t.deepEqual(produced.filter((p) => p.partitions.includes(1)).map((p) => p.broker), [2], 'partition 1 was acknowledged: not sent twice');
  t.deepEqual(result.map((r) => r.partition).sort(), [0, 1]);
  t.true(refreshes >= 2, 'metadata read at the failure and again before the retry');
});
