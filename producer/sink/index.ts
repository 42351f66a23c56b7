// Publishing to Kafka: the bounded queue, batching, kafkajs transport and codecs.
export { KafkaSink, messageKey, classifySendError, KEY_STRATEGIES } from './sink.ts';
export type { KafkaSinkConfig, KafkaSinkOptions, SinkBatch, BatchAck, SinkHooks, SinkStats, KeyStrategy } from './sink.ts';
export { RecordQueue, DROP_REASONS, QUEUE_POLICIES, emptyDropCounts } from './queue.ts';
export type { DropReason, DropCounts, QueueOptions, QueuePolicy, QueuedMessage } from './queue.ts';
export { KafkaTransport, kafkaClientConfig, kafkajsLogCreator, sslOptions, saslOptions, brokersOf, LOCAL_BROKERS } from './kafka.ts';
export type { SinkTransport, KafkaTransportOptions, KafkaSection } from './kafka.ts';
export { registerCodecs, compressionType, lz4Codec, snappyCodec, zstdCodec, zstdAvailable, COMPRESSIONS } from './codecs.ts';
export type { Compression, KafkajsCodec } from './codecs.ts';
export { SinkError, TopicMissingError, KafkaUnavailableError, KafkaAuthenticationError, KafkaConfigError } from './errors.ts';
export type { SinkLogger } from './log.ts';
export { silentLogger } from './log.ts';
export { startSink } from './start.ts';
export type { PublishConfig } from './start.ts';
