// Shared pieces of the live publishing tests: config for the local stack, unique
// topic names, an independent kafkajs consumer, cleanup.
import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import type { Admin, KafkaConfig } from 'kafkajs';
import { loadConfig } from '../../producer/config/load.ts';
import type { ConntrailConfig } from '../../producer/config/load.ts';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import { sampleRecord } from '../../producer/model/sample.ts';
import { registerCodecs } from '../../producer/sink/kafka.ts';
import { RegistryRest } from '../../producer/registry/rest.ts';
import { brokerList, KAFKA_BROKERS, REGISTRY_URL } from '../helpers/require.ts';

export { KAFKA_BROKERS, REGISTRY_URL };

/** A name no other test run uses (topic names allow [A-Za-z0-9._-]). */
export function uniqueName(what: string): string {
  return `conntrail-test-${what}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const av = a[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && av && typeof av === 'object' && !Array.isArray(av)
      ? deepMerge(av as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** A full, validated config pointing at the local stack, with short retries. */
export function stackConfig(topic: string, overrides: Record<string, unknown> = {}): ConntrailConfig {
  const base = {
    kafka: {
      brokers: brokerList(KAFKA_BROKERS), topic, topicPartitions: 3, topicReplicationFactor: 1,
      retry: { retries: 2, initialRetryTimeMs: 100, maxRetryTimeMs: 1000 },
      batch: { lingerMs: 5 },
    },
    registry: { url: REGISTRY_URL, startupRetryMs: 5000 },
  };
  return loadConfig({ env: {}, overrides: deepMerge(base, overrides) }).config;
}

export function testKafka(brokers: string[] = brokerList(KAFKA_BROKERS), extra: Partial<KafkaConfig> = {}): InstanceType<typeof kafkajs.Kafka> {
  registerCodecs();
  return new kafkajs.Kafka({ clientId: 'conntrail-test', brokers, logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 3 }, ...extra });
}

export interface Consumed {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer;
  timestamp: string;
  headers: Record<string, string>;
}

/**
 * Reads `topic` from the beginning with an independent kafkajs consumer (own
 * group) until `count` distinct messages (partition + offset) arrived, then
 * `settleMs` more to catch extras, or `timeoutMs` overall.
 */
export async function consume(topic: string, count: number, opts: { timeoutMs?: number; settleMs?: number; brokers?: string[] } = {}): Promise<Consumed[]> {
  const kafka = testKafka(opts.brokers);
  const consumer = kafka.consumer({ groupId: uniqueName('group'), sessionTimeout: 10_000, heartbeatInterval: 1000, maxWaitTimeInMs: 200 });
  const out: Consumed[] = [];
  const seen = new Set<string>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let reached: () => void = () => {};
    const done = new Promise<void>((resolve) => { reached = resolve; });
    await consumer.run({
      eachMessage: async ({ topic: tp, partition, message }) => {
        // a consumer-group rebalance can hand us a message again: the topic holds it once
        const at = `${partition}:${message.offset}`;
        if (seen.has(at)) return;
        seen.add(at);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        out.push({ topic: tp, partition, offset: message.offset, key: message.key?.toString() ?? null, value: message.value as Buffer, timestamp: message.timestamp, headers });
        if (out.length >= count) reached();
      },
    });
    const timeoutMs = opts.timeoutMs ?? 60_000;
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
    // linger a little to see duplicates or extras
    await new Promise((resolve) => setTimeout(resolve, opts.settleMs ?? 500));
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Messages in the topic by the broker's offsets (high - low watermark, summed over partitions). */
export async function topicMessageCount(topic: string, brokers?: string[]): Promise<number> {
  const offsets = await withAdmin((a) => a.fetchTopicOffsets(topic), brokers);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

export async function withAdmin<T>(fn: (admin: Admin) => Promise<T>, brokers?: string[]): Promise<T> {
  const admin = testKafka(brokers).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes test topics (best effort). */
export async function deleteTopics(topics: string[], brokers?: string[]): Promise<void> {
  await withAdmin((admin) => admin.deleteTopics({ topics, timeout: 10_000 }), brokers).catch(() => {});
}

/** Deletes test subjects (best effort). */
export async function deleteSubjects(subjects: string[]): Promise<void> {
  const rest = new RegistryRest({ url: REGISTRY_URL });
  for (const s of subjects) await rest.deleteSubject(s, true).catch(() => {});
}

/** n records: several pids (keys), a sequence number in eventId and dstPort. */
export function testRecords(n: number, opts: { pids?: number; from?: number; base?: Partial<NetTCPConnect> } = {}): NetTCPConnect[] {
  const pids = opts.pids ?? 5;
  const from = opts.from ?? 0;
  // event time is the Kafka message time: it must be recent, or the broker's
  // retention check (every 5 min; 24 h on the local stack) deletes the records mid-test
  const base = sampleRecord({ timestamp: Date.now() * 1000, ...opts.base });
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      ...base,
      eventId: `evt-${String(i).padStart(8, '0')}`,
      timestamp: base.timestamp + i * 1000 + (i % 1000),
      process: { ...base.process, pid: 1000 + (i % pids), tid: 2000 + i, ppid: i % 3 === 0 ? null : 1, exe: i % 4 === 0 ? null : base.process.exe },
      dstPort: 1 + (i % 65000),
      results: i % 2 === 0 ? [`host${i}.example.com`, 'cdn.example.net'] : [],
    };
  });
}

/** JSON round trip: avsc record instances -> plain objects. */
export const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
