// A what-if, not the shipped code: the sink's Kafka transport on
// @platformatic/kafka instead of kafkajs (same broker, topic, acks and
// idempotence; the key hashed with the same Java-compatible murmur2, so the
// same partitions). Used only by the benchmarks' "what-if" section, to size
// what replacing kafkajs would buy. The package is an optional
// devDependency: without it the variant is skipped (available() says why).
import { KafkaTransport } from '../../producer/sink/kafka.ts';
import type { KafkaSection, SinkTransport } from '../../producer/sink/kafka.ts';
import type { QueuedMessage } from '../../producer/sink/queue.ts';

const PKG = '@platformatic/kafka';

interface PMessage { topic: string; key?: string; value: Buffer; timestamp?: bigint; headers?: Record<string, string> }
interface PProducer {
  send(o: { messages: PMessage[] }): Promise<unknown>;
  metadata(o: { topics: string[] }): Promise<unknown>;
  close(): Promise<void>;
}
interface PModule {
  Producer: new (o: Record<string, unknown>) => PProducer;
  stringSerializer(s?: string): Buffer | undefined;
}

let mod: PModule | null = null;

/** Loads the package; null when it is installed, else the reason it is not usable. */
export async function available(): Promise<string | null> {
  try {
    mod = (await import(PKG)) as PModule;
    return null;
  } catch (err) {
    return `${PKG} is not installed (${(err as Error).message.split('\n')[0]})`;
  }
}

export class PlatformaticTransport implements SinkTransport {
  readonly #cfg: KafkaSection;
  readonly #admin: KafkaTransport;
  readonly #producer: PProducer;

  constructor(cfg: KafkaSection) {
    if (!mod) throw new Error(`${PKG}: call available() first`);
    this.#cfg = cfg;
    this.#admin = new KafkaTransport(cfg); // ensureTopic through kafkajs's admin, as the sink does
    const str = mod.stringSerializer;
    this.#producer = new mod.Producer({
      clientId: cfg.clientId,
      bootstrapBrokers: cfg.brokers,
      acks: cfg.acks,
      idempotent: cfg.idempotent,
      timeout: cfg.requestTimeoutMs,
      retries: cfg.retry.retries,
      serializers: { key: str, value: (v?: Buffer) => v, headerKey: str, headerValue: str },
    });
  }

  async connect(): Promise<void> {
    await this.#producer.metadata({ topics: [] });
  }

  ensureTopic(): Promise<void> {
    return this.#admin.ensureTopic();
  }

  send(messages: QueuedMessage[]): Promise<unknown> {
    const topic = this.#cfg.topic;
    const out: PMessage[] = new Array(messages.length);
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const p: PMessage = { topic, value: m.value, timestamp: BigInt(m.timestamp) };
      if (m.key !== null) p.key = m.key;
      if (m.headers) p.headers = m.headers as Record<string, string>;
      out[i] = p;
    }
    return this.#producer.send({ messages: out });
  }

  async disconnect(): Promise<void> {
    await this.#producer.close();
  }
}
