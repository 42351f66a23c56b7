// A what-if, not the shipped code: the sink's Kafka transport with two fixes
// to kafkajs's per-message overhead that the ceiling profile points at, so
// that BENCHMARKS.md can say what they would buy. Used only by the ceiling's
// "tuned" variant (bench/run.ts), through KafkaSinkOptions.transport.
//
// 1. (bench/lib/kafkajs-patch.ts) kafkajs's groupMessagesPerPartition: O(n) instead of O(n^2).
// 2. kafkajs's default partitioner hashes each key with murmur2 over an
//    emulated 64-bit Long and filters the partition list per message. Here:
//    the same murmur2 (Java client compatible, same partition for the same
//    key) with Math.imul, and no per-message allocation.
import type { Producer, Message, RecordMetadata, ICustomPartitioner } from 'kafkajs';
import type { KafkaSection, SinkTransport } from '../../producer/sink/kafka.ts';
import { KafkaTransport, kafkaClientConfig } from '../../producer/sink/kafka.ts';
import { compressionType, registerCodecs } from '../../producer/sink/codecs.ts';
import type { Compression } from '../../producer/sink/codecs.ts';
import type { QueuedMessage } from '../../producer/sink/queue.ts';

/** murmur2 as Kafka's Java client computes it (org.apache.kafka.common.utils.Utils.murmur2). */
export function murmur2(data: Buffer): number {
  const length = data.length;
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ length;
  const length4 = length >> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4]! & 0xff) | ((data[i4 + 1]! & 0xff) << 8) | ((data[i4 + 2]! & 0xff) << 16) | ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length & ~3;
  switch (length & 3) {
    case 3: h ^= (data[tail + 2]! & 0xff) << 16; // falls through
    case 2: h ^= (data[tail + 1]! & 0xff) << 8; // falls through
    case 1:
      h ^= data[tail]! & 0xff;
      h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** kafkajs's DefaultPartitioner (keyed: murmur2 % partitions; else round robin), without its per-message costs. */
export const fastPartitioner: ICustomPartitioner = () => {
  let counter = Math.floor(Math.random() * 0x7fffffff);
  return ({ partitionMetadata, message }) => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    const n = partitionMetadata.length;
    const key = message.key;
    if (key !== null && key !== undefined) {
      const buf = Buffer.isBuffer(key) ? key : Buffer.from(String(key));
      return (murmur2(buf) & 0x7fffffff) % n;
    }
    return (++counter & 0x7fffffff) % n;
  };
};

/** KafkaTransport with the fast partitioner (and, when patched first, the O(n) grouping). */
export class TunedKafkaTransport implements SinkTransport {
  readonly producer: Producer;
  readonly #inner: KafkaTransport;
  readonly #cfg: KafkaSection;
  readonly #compression: number;

  constructor(cfg: KafkaSection) {
    registerCodecs();
    this.#cfg = cfg;
    this.#inner = new KafkaTransport(cfg); // for ensureTopic (admin client)
    this.#compression = compressionType(cfg.compression as Compression);
    const clientConfig = kafkaClientConfig(cfg);
    this.producer = this.#inner.kafka.producer({
      idempotent: cfg.idempotent,
      maxInFlightRequests: cfg.idempotent ? 1 : cfg.batch.maxInFlight,
      allowAutoTopicCreation: false,
      retry: clientConfig.retry,
      createPartitioner: fastPartitioner,
    });
  }

  connect(): Promise<void> { return this.producer.connect(); }
  ensureTopic(): Promise<void> { return this.#inner.ensureTopic(); }
  send(messages: QueuedMessage[]): Promise<RecordMetadata[]> {
    return this.producer.send({ topic: this.#cfg.topic, messages: messages as Message[], acks: this.#cfg.acks, timeout: this.#cfg.requestTimeoutMs, compression: this.#compression });
  }
  disconnect(): Promise<void> { return this.producer.disconnect(); }
}
