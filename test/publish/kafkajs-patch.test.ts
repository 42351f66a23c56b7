// The kafkajs patch (patches/kafkajs+2.2.4.patch, applied at install; see
// producer/sink/kafkajs-patch.ts: one-pass record batches, CRC32C from
// @node-rs/crc32, the Produce request assembled in one buffer) through the real broker, which checks every batch's CRC and framing: keys,
// tombstones, headers (repeated, binary), explicit timestamps, several
// partitions and codecs, with and without idempotence; read back field by field.
import { integrationTest } from '../helpers/require.ts';
import { kafkajsPatched } from '../../producer/sink/kafkajs-patch.ts';
import kafkajs from 'kafkajs';
import { deleteTopics, testKafka, uniqueName, withAdmin } from './helpers.ts';

const run = uniqueName('kpatch');
const created: string[] = [];

interface Sent { key: Buffer | string | null; value: Buffer | string | null; headers?: Record<string, string | Buffer | (string | Buffer)[]>; timestamp?: string; partition: number }

function messages(n: number, now: number): Sent[] {
  return Array.from({ length: n }, (_, i) => ({
    partition: i % 3,
    key: i % 5 === 0 ? null : i % 2 === 0 ? `key-ü-${i % 11}` : Buffer.from([i & 0xff, 0, 0xff]),
    value: i % 13 === 0 ? null : i % 3 === 0 ? `välue ${i} ✓` : Buffer.alloc(40 + (i % 300), i & 0xff),
    ...(i % 4 === 0 ? { headers: { single: `h${i}`, bin: Buffer.from([1, 2, i & 0xff]), multi: ['a', Buffer.from('b'), `c${i}`] } } : {}),
    // recent (the local stack keeps 24 h), out of order within a batch
    ...(i % 2 === 0 ? { timestamp: String(now - ((i * 7919) % 600_000)) } : {}),
  }));
}

const bytesOf = (v: Buffer | string | null): string | null => (v === null ? null : Buffer.from(v).toString('hex'));

for (const [name, compression, idempotent] of [
  ['none', kafkajs.CompressionTypes.None, true],
  ['none, not idempotent', kafkajs.CompressionTypes.None, false],
  ['gzip', kafkajs.CompressionTypes.GZIP, true],
  ['lz4', kafkajs.CompressionTypes.LZ4, false],
] as const) {
  await integrationTest(`patched kafkajs (${name}): the broker takes keys, tombstones, headers, timestamps; read back as sent`, ['kafka'], async (t) => {
    t.true(kafkajsPatched());
    const topic = `${run}-${name.replace(/[^a-z0-9]+/g, '-')}`;
    created.push(topic);
    const kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer({ idempotent, maxInFlightRequests: idempotent ? 1 : 5, allowAutoTopicCreation: false });
    await producer.connect();
    const now = Date.now();
    const sent = messages(1500, now);
    try {
      // two sends: one request per broker with three partitions' batches in it
      await producer.send({ topic, acks: -1, compression, messages: sent.slice(0, 1000) });
      await producer.send({ topic, acks: -1, compression, messages: sent.slice(1000) });
    } finally {
      await producer.disconnect();
    }

    const consumer = kafka.consumer({ groupId: uniqueName('kpatch-group'), maxWaitTimeInMs: 200 });
    const got = new Map<string, { key: string | null; value: string | null; headers: Record<string, unknown>; timestamp: string }>();
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      let reached: () => void = () => {};
      const done = new Promise<void>((resolve) => { reached = resolve; });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          got.set(`${partition}:${message.offset}`, {
            key: message.key === null ? null : message.key.toString('hex'),
            value: message.value === null ? null : message.value.toString('hex'),
            headers: message.headers ?? {},
            timestamp: message.timestamp,
          });
          if (got.size >= sent.length) reached();
        },
      });
      await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 60_000))]);
    } finally {
      await consumer.disconnect();
    }
    t.is(got.size, sent.length);
    // per partition, offsets follow the send order
    const perPartition = [0, 1, 2].map((p) => sent.filter((m) => m.partition === p));
    let mismatches = 0;
    for (const [p, list] of perPartition.entries()) {
      for (const [offset, m] of list.entries()) {
        const g = got.get(`${p}:${offset}`);
        const headersOk = JSON.stringify(Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => Buffer.from(x).toString()) : Buffer.from(v).toString()])))
          === JSON.stringify(Object.fromEntries(Object.entries(g?.headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.map((x: Buffer) => x.toString()) : (v as Buffer).toString()])));
        const ok = g !== undefined && g.key === bytesOf(m.key) && g.value === bytesOf(m.value) && headersOk
          && (m.timestamp === undefined ? Math.abs(Number(g.timestamp) - now) < 120_000 : g.timestamp === m.timestamp);
        if (!ok) mismatches++;
      }
    }
    t.is(mismatches, 0);
  }, { serial: true });
}

await integrationTest('patched kafkajs: test topics deleted', ['kafka'], async (t) => {
  t.true(created.length > 0, 'the tests above made topics');
  await deleteTopics(created);
  const left = (await withAdmin((a) => a.listTopics())).filter((name) => created.includes(name));
  t.deepEqual(left, []);
}, { serial: true });
