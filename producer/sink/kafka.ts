// conntrail's kafka.* configuration mapped onto kafkajs, and the transport the
// sink sends through (connect, ensure the topic, send one batch, disconnect).
import { createRequire } from 'node:module';
import path from 'node:path';
import kafkajs from 'kafkajs';
import type { KafkaConfig, Producer, Admin, logCreator, Message, RecordMetadata, ICustomPartitioner, PartitionerArgs } from 'kafkajs';
import type { ConntrailConfig } from '../config/load.ts';
import { LOCAL_BROKERS } from '../local-stack.ts';
import { lz4Codec, snappyCodec, zstdAvailable, zstdCodec } from './codecs.ts';
import type { Compression, KafkajsCodec } from './codecs.ts';
import { kafkajsNotPatchedReason, kafkajsPatched, PATCH_FILE } from './kafkajs-patch.ts';
import { saslOptions, sslOptions } from './kafka-security.ts';
import { connectError, KafkaConfigError, SinkError, TopicMissingError } from './errors.ts';
import type { LoggerLike } from '../log.ts';
import { silentLogger } from '../log.ts';
import type { QueuedMessage } from './queue.ts';

export type KafkaSection = ConntrailConfig['kafka'];

const requireCjs = createRequire(import.meta.url);

export function brokersOf(k: Pick<KafkaSection, 'brokers'>): string[] {
  return k.brokers.length > 0 ? [...k.brokers] : [...LOCAL_BROKERS];
}

let registered = false;
/** Registers snappy, lz4 and zstd (codecs.ts) with kafkajs (idempotent; producers and consumers both use them). */
export function registerCodecs(): void {
  if (registered) return;
  registered = true;
  const { CompressionCodecs, CompressionTypes } = kafkajs;
  const codecs = CompressionCodecs as unknown as Record<number, () => KafkajsCodec>;
  codecs[CompressionTypes.Snappy] = snappyCodec;
  codecs[CompressionTypes.LZ4] = lz4Codec;
  if (zstdAvailable()) codecs[CompressionTypes.ZSTD] = () => zstdCodec();
}

/** kafkajs compression type for a conntrail kafka.compression value. */
export function compressionType(c: Compression): number {
  const { CompressionTypes } = kafkajs;
  switch (c) {
    case 'none': return CompressionTypes.None;
    case 'gzip': return CompressionTypes.GZIP;
    case 'snappy': return CompressionTypes.Snappy;
    case 'lz4': return CompressionTypes.LZ4;
    case 'zstd': return CompressionTypes.ZSTD;
  }
}

/** kafkajs messages that are expected with conntrail's settings: logged at debug. */
const EXPECTED_KAFKAJS_WARNINGS = [
  // the sink retries a batch forever itself (kafka.retry.* bounds one attempt)
  'Limiting retries for the idempotent producer may invalidate EoS guarantees',
];

/** Prefixes kafkajs puts before the error it reports in a line's message. */
const KAFKAJS_PREFIXES = ['Failed to send messages: ', 'Failed to connect to seed broker, trying another broker from the list: '];
/** kafkajs's connection errors (KafkaJSConnectionError, KafkaJSConnectionClosedError, KafkaJSRequestTimeoutError): retriable, kafkajs reconnects. */
const KAFKAJS_CONNECTION_ERROR = /^(Connection error|Connection timeout|Closed connection|Connection closed by the server|Failed to connect|Not connected)\b|^Request .* timed out$/;

let protocolRetriable: Map<string, boolean> | undefined;
/** Whether the kafkajs protocol error with this message is retriable (undefined: not one), from kafkajs's own table (src/protocol/error.js). */
function protocolErrorRetriable(message: string): boolean | undefined {
  protocolRetriable ??= new Map((requireCjs(path.join(path.dirname(requireCjs.resolve('kafkajs')), 'src', 'protocol', 'error.js')) as {
    errorCodes: { message: string; retriable: boolean }[];
  }).errorCodes.map((e) => [e.message, e.retriable]));
  return protocolRetriable.get(message);
}

/**
 * The level of a kafkajs log line in conntrail's log, by what the error it
 * reports means (kafkajs logs every failed attempt at error level, even the
 * ones it retries):
 * - a retriable protocol error (the broker answered "the coordinator is
 *   loading", "no leader yet"...): the broker resolves it and kafkajs retries:
 *   debug. If it lasts, the send or the startup fails and conntrail says so
 *   itself (the sink's warning, /readyz, or the startup error);
 * - a connection error (refused, timeout, closed): kafkajs reconnects, but a
 *   broker is unreachable: warn;
 * - anything else keeps kafkajs's level.
 */
export function kafkajsLineLevel(level: number, message: string, error?: unknown): 'debug' | 'info' | 'warn' | 'error' {
  const { logLevel } = kafkajs;
  if (EXPECTED_KAFKAJS_WARNINGS.some((w) => message.startsWith(w))) return 'debug';
  const own = level === logLevel.ERROR ? 'error' : level === logLevel.WARN ? 'warn' : level === logLevel.INFO ? 'info' : 'debug';
  if (own !== 'error' && own !== 'warn') return own;
  let text = typeof error === 'string' ? error : message;
  for (const p of KAFKAJS_PREFIXES) if (text.startsWith(p)) text = text.slice(p.length);
  const retriable = protocolErrorRetriable(text);
  if (retriable === true) return 'debug';
  if (retriable === undefined && KAFKAJS_CONNECTION_ERROR.test(text)) return 'warn';
  return own;
}

/**
 * Routes kafkajs's own log lines (it is created at warn level) to a
 * pino-compatible logger, at the level kafkajsLineLevel says. The same line
 * (namespace + message) is logged at most once per `repeatWindowMs` (default
 * 10 s): while a broker is down kafkajs logs every connection attempt. The
 * next one carries `suppressed: n`.
 */
export function kafkajsLogCreator(logger: LoggerLike, repeatWindowMs = 10_000): logCreator {
  const recent = new Map<string, { at: number; suppressed: number }>();
  return () => ({ namespace, level, log }) => {
    const { message, timestamp: _ts, stack: _stack, ...extra } = log;
    const key = `${namespace}|${message}`;
    const now = Date.now();
    const seen = recent.get(key);
    if (seen && now - seen.at < repeatWindowMs) {
      seen.suppressed++;
      return;
    }
    if (recent.size > 1000) recent.clear();
    recent.set(key, { at: now, suppressed: 0 });
    const obj: Record<string, unknown> = { component: 'kafkajs', namespace, ...extra };
    if (seen && seen.suppressed > 0) obj.suppressed = seen.suppressed;
    logger[kafkajsLineLevel(level, message, extra.error)](obj, message);
  };
}

/**
 * Longest sleep between kafkajs's retries inside one send (Java's
 * retry.backoff.max.ms and librdkafka's default). kafkajs reads the partition
 * leaders again after each failed attempt (and, patched, before the retry), so a
 * longer sleep only delays the send to a newly elected leader: with
 * kafka.retry.maxRetryTimeMs (30 s) as the bound, a batch slept up to 19 s after
 * its leader died while the other brokers answered. A cluster that answers
 * nothing is still retried at the full kafka.retry.* pace: kafkajs's reconnects
 * use the client's retry settings, not these.
 */
export const SEND_RETRY_MAX_MS = 1000;

/** What kafkajs's retries with `retry` sleep in all, jitter aside (kafkajs: initialRetryTime, doubling, at most maxRetryTime). */
function retrySleepMs(retries: number, initial: number, max: number): number {
  let total = 0;
  for (let i = 0, d = initial; i < retries; i++, d *= 2) total += Math.min(d, max);
  return total;
}

/**
 * kafkajs's retry settings for one send: sleeps of at most SEND_RETRY_MAX_MS,
 * and as many retries as keep the time one send tries what kafka.retry.* gives
 * it (8 retries from 300 ms to 30 s: 68 s, now 70 retries). A send that gives up
 * is sent again whole by the sink, partitions already acknowledged included
 * (duplicates): giving up sooner would make more of them.
 */
export function sendRetry(retry: { retries: number; initialRetryTime: number; maxRetryTime: number }): { retries: number; initialRetryTime: number; maxRetryTime: number } {
  const maxRetryTime = Math.min(retry.maxRetryTime, SEND_RETRY_MAX_MS);
  const initialRetryTime = Math.min(retry.initialRetryTime, maxRetryTime);
  let remaining = retrySleepMs(retry.retries, retry.initialRetryTime, retry.maxRetryTime);
  let retries = 0;
  for (let d = initialRetryTime; d < maxRetryTime && remaining > 0; d *= 2, retries++) remaining -= d;
  if (remaining > 0) retries += Math.ceil(remaining / maxRetryTime);
  return { retries: Math.max(retries, retry.retries), initialRetryTime, maxRetryTime };
}

/** The kafkajs client configuration for conntrail's kafka.* section. */
export function kafkaClientConfig(k: KafkaSection, logger: LoggerLike = silentLogger): KafkaConfig {
  const sasl = saslOptions(k.sasl);
  return {
    clientId: k.clientId,
    brokers: brokersOf(k),
    ssl: sslOptions(k.ssl),
    ...(sasl ? { sasl } : {}),
    requestTimeout: k.requestTimeoutMs,
    retry: { retries: k.retry.retries, initialRetryTime: k.retry.initialRetryTimeMs, maxRetryTime: k.retry.maxRetryTimeMs },
    logLevel: kafkajs.logLevel.WARN,
    logCreator: kafkajsLogCreator(logger),
  };
}


/**
 * kafkajs's DefaultPartitioner (Java-compatible murmur2 of the key), with the
 * hash cached per key string: conntrail's keys repeat (host, host:pid), and the
 * stock one hashes (and filters the partition list) for every message. Same
 * partition for every key; keyless messages go to the stock partitioner.
 */
export function cachingPartitioner(maxKeys = 65536): ICustomPartitioner {
  const murmur2 = requireCjs(path.join(path.dirname(requireCjs.resolve('kafkajs')), 'src', 'producer', 'partitioners', 'default', 'murmur2.js')) as (key: string | Buffer) => number;
  return () => {
    const stock = kafkajs.Partitioners.DefaultPartitioner();
    const hashes = new Map<string, number>();
    return (args: PartitionerArgs): number => {
      const { message, partitionMetadata } = args;
      const key = message.key;
      if ((message.partition === undefined || message.partition === null) && typeof key === 'string') {
        let h = hashes.get(key);
        if (h === undefined) {
          h = murmur2(key) & 0x7fffffff;
          if (hashes.size >= maxKeys) hashes.clear();
          hashes.set(key, h);
        }
        return h % partitionMetadata.length;
      }
      return stock(args);
    };
  };
}

/** Waits until every partition of `topic` has a leader (new topics take a moment to propagate). */
export async function waitForLeaders(admin: Admin, topic: string, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = meta.topics[0]?.partitions ?? [];
      if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) return;
      last = new Error(`partitions without a leader: ${partitions.filter((p) => p.leader < 0).map((p) => p.partitionId).join(',') || 'none listed'}`);
    } catch (err) {
      if ((err as { retriable?: boolean }).retriable === false) throw err;
      last = err;
    }
    if (Date.now() - t0 > timeoutMs) {
      throw new SinkError(`Kafka topic "${topic}" has no leader for every partition after ${timeoutMs} ms: ${(last as Error)?.message ?? last}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What the sink needs from Kafka; tests substitute a fake. */
export interface SinkTransport {
  /** Connects the producer; throws KafkaUnavailableError when no broker answers, KafkaAuthenticationError when SASL fails. */
  connect(): Promise<void>;
  /** Creates the topic (default kafka.topic) when missing and allowed; throws TopicMissingError otherwise. */
  ensureTopic(topic?: string, partitions?: number): Promise<void>;
  /** Sends one batch (to kafka.topic unless `topic` says otherwise); resolves when acknowledged per kafka.acks. */
  send(messages: QueuedMessage[], topic?: string): Promise<unknown>;
  disconnect(): Promise<void>;
}

export interface KafkaTransportOptions {
  /** Override kafkajs client settings (tests: shorter retries). */
  clientOverrides?: Partial<KafkaConfig>;
}

/** The real transport: one kafkajs producer writing to kafka.topic. */
export class KafkaTransport implements SinkTransport {
  readonly kafka: InstanceType<typeof kafkajs.Kafka>;
  readonly producer: Producer;
  readonly #cfg: KafkaSection;
  readonly #brokers: string[];
  readonly #compression: number;
  readonly #logger: LoggerLike;

  constructor(cfg: KafkaSection, logger: LoggerLike = silentLogger, options: KafkaTransportOptions = {}) {
    registerCodecs();
    if (!kafkajsPatched()) {
      logger.warn({ reason: kafkajsNotPatchedReason() }, `kafkajs runs unpatched (${PATCH_FILE}, see producer/sink/kafkajs-patch.ts): large batches are grouped per partition in O(n^2) and encoded record by record; npm install applies the patch`);
    }
    this.#cfg = cfg;
    this.#logger = logger;
    this.#brokers = brokersOf(cfg);
    this.#compression = compressionType(cfg.compression);
    const clientConfig = { ...kafkaClientConfig(cfg, logger), ...options.clientOverrides };
    this.kafka = new kafkajs.Kafka(clientConfig);
    const idempotent = cfg.idempotent;
    if (idempotent && cfg.acks !== -1) throw new KafkaConfigError('kafka.idempotent needs kafka.acks=-1');
    this.producer = this.kafka.producer({
      // kafkajs 2's default (Java-compatible murmur2), hash cached per key; naming one silences its migration warning
      createPartitioner: cachingPartitioner(),
      idempotent,
      // kafkajs keeps idempotence only with one request in flight
      maxInFlightRequests: idempotent ? 1 : cfg.batch.maxInFlight,
      allowAutoTopicCreation: false,
      // Without idempotence every resend can duplicate records, so the sink does
      // all of them (backoff, counted in stats().resent). kafkajs refuses an
      // idempotent producer without retries; there the broker drops resent
      // sequence numbers, so its own retries are harmless.
      retry: idempotent ? { ...clientConfig.retry, ...sendRetry({ retries: cfg.retry.retries, initialRetryTime: cfg.retry.initialRetryTimeMs, maxRetryTime: cfg.retry.maxRetryTimeMs }) } : { ...clientConfig.retry, retries: 0 },
    });
  }

  async connect(): Promise<void> {
    try {
      await this.producer.connect();
    } catch (err) {
      throw connectError(this.#brokers, err);
    }
  }

  async ensureTopic(topic = this.#cfg.topic, partitions = this.#cfg.topicPartitions): Promise<void> {
    const admin: Admin = this.kafka.admin();
    try {
      await admin.connect();
    } catch (err) {
      throw connectError(this.#brokers, err);
    }
    try {
      const topics = await admin.listTopics();
      if (topics.includes(topic)) return;
      if (!this.#cfg.createTopic) throw new TopicMissingError(topic, this.#brokers);
      const created = await admin.createTopics({
        // kafkajs's own wait gives up on UNKNOWN_TOPIC_OR_PARTITION while the new
        // topic propagates; we wait ourselves (producing before every partition has
        // a leader makes kafkajs resend whole requests: duplicates)
        waitForLeaders: false,
        topics: [{ topic, numPartitions: partitions, replicationFactor: this.#cfg.topicReplicationFactor }],
      });
      await waitForLeaders(admin, topic, this.#cfg.requestTimeoutMs);
      this.#logger.info({ topic, partitions, replicationFactor: this.#cfg.topicReplicationFactor, created },
        created ? 'created Kafka topic' : 'Kafka topic already created by someone else');
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  send(messages: QueuedMessage[], topic = this.#cfg.topic): Promise<RecordMetadata[]> {
    return this.producer.send({
      topic,
      messages: messages as Message[],
      acks: this.#cfg.acks,
      timeout: this.#cfg.requestTimeoutMs,
      compression: this.#compression,
    });
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}
