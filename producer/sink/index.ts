// Publishing to Kafka: the bounded queue, batching, kafkajs transport and codecs.
export { KafkaSink } from './sink.ts';
export { Delivery } from './delivery.ts';
export type { DeliveryOptions, SendErrorKind } from './delivery.ts';
export type { KafkaSinkConfig, KafkaSinkOptions, SinkBatch, BatchAck, SinkHooks, SinkStats } from './sink.ts';
export { messageKey, KEY_STRATEGIES } from './keys.ts';
export type { KeyStrategy } from './keys.ts';
export { RecordQueue, DROP_REASONS, QUEUE_POLICIES, emptyDropCounts } from './queue.ts';
export type { DropReason, DropCounts, QueueOptions, QueuePolicy, QueuedMessage } from './queue.ts';
export { KafkaTransport, kafkaClientConfig, kafkajsLogCreator, brokersOf, registerCodecs, compressionType } from './kafka.ts';
export { sslOptions, saslOptions, SASL_MECHANISMS } from './kafka-security.ts';
export type { SaslMechanism } from './kafka-security.ts';
export type { SinkTransport, KafkaTransportOptions, KafkaSection } from './kafka.ts';
export { lz4Codec, snappyCodec, zstdCodec, zstdAvailable, COMPRESSIONS } from './codecs.ts';
export type { Compression, KafkajsCodec } from './codecs.ts';
export { SinkError, TopicMissingError, KafkaUnavailableError, KafkaAuthenticationError, KafkaConfigError, classifySendError, describeError } from './errors.ts';
export { startSink } from './start.ts';
export type { PublishConfig } from './start.ts';
