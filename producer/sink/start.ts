// One call for `conntrail run`: encoder (schema resolved once) + sink, started.
import type { ConntrailConfig } from '../config/load.ts';
import { createEncoder } from '../encode/create.ts';
import type { LoggerLike } from '../log.ts';
import { silentLogger } from '../log.ts';
import { KafkaSink } from './sink.ts';
import type { KafkaSinkOptions } from './sink.ts';
import type { RecordEncoder } from '../encode/types.ts';

export type PublishConfig = Pick<ConntrailConfig, 'encoding' | 'registry' | 'kafka' | 'queue'> & Partial<Pick<ConntrailConfig, 'spool'>>;

/**
 * Resolves the encoder (Avro: registry per registry.mode; ECS JSON), builds the
 * KafkaSink and starts it (connect, topic). Throws the named errors of each
 * step: RegistryUnavailableError, SchemaIncompatibleError, SubjectNotFoundError,
 * KafkaUnavailableError, TopicMissingError.
 */
export async function startSink(cfg: PublishConfig, logger: LoggerLike = silentLogger, options: KafkaSinkOptions & {
  wrapEncoder?: (e: RecordEncoder) => RecordEncoder;
  /** Called once the encoder is made (Avro: the schema resolved), before Kafka is connected (readiness). */
  onEncoder?: (e: RecordEncoder) => void;
} = {}): Promise<KafkaSink> {
  const { wrapEncoder, onEncoder, ...sinkOptions } = options;
  const encoder = await createEncoder(cfg, { logger });
  onEncoder?.(encoder);
  const sink = new KafkaSink({ kafka: cfg.kafka, queue: cfg.queue, ...(cfg.spool ? { spool: cfg.spool } : {}) }, wrapEncoder ? wrapEncoder(encoder) : encoder, logger, sinkOptions);
  await sink.start();
  return sink;
}
