// Named errors of the Kafka side (kafkajs style: a name, a message a user can act on).
// `userFacing` lets the CLI print the message without a stack.

export class SinkError extends Error {
  override name = 'SinkError';
  readonly userFacing = true;
}

/** The topic does not exist and kafka.createTopic is false. */
export class TopicMissingError extends SinkError {
  override name = 'TopicMissingError';
  readonly topic: string;
  constructor(topic: string, brokers: readonly string[]) {
    super(`Kafka topic "${topic}" does not exist on ${brokers.join(',')} and kafka.createTopic is false: create it, or set kafka.createTopic=true`);
    this.topic = topic;
  }
}

/** No broker answered at startup (after kafkajs's retries). */
export class KafkaUnavailableError extends SinkError {
  override name = 'KafkaUnavailableError';
  readonly brokers: readonly string[];
  constructor(brokers: readonly string[], cause: unknown) {
    super(`Kafka is unreachable at ${brokers.join(',')}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.brokers = brokers;
  }
}

/** A TLS file named in kafka.ssl.* cannot be read. */
export class KafkaConfigError extends SinkError {
  override name = 'KafkaConfigError';
}
