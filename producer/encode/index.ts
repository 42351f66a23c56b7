// Encoders for the Kafka message values: Avro (Confluent wire format) or ECS JSON.
export type { RecordEncoder, EncodingFormat } from './types.ts';
export { AvroEncoder, readWireFrame, WireFormatError, MAGIC_BYTE, WIRE_HEADER_BYTES } from './avro.ts';
export type { AvroEncoderOptions } from './avro.ts';
export { EcsJsonEncoder, ecsJson, isoMicros, ECS_FIELD_MAP, ECS_VERSION, ECS_EVENT_ACTION, ECS_EVENT_MODULE, ECS_EVENT_DATASET } from './ecs.ts';
export { ENCODINGS } from './types.ts';
export { createEncoder, createAvroEncoder, createStatusEncoder } from './create.ts';
export { avroStatusEncoder, ecsStatusEncoder, ecsStatus, ECS_STATUS_FIELD_MAP, ECS_STATUS_DATASET } from './agent-status.ts';
export type { StatusEncoder } from './agent-status.ts';
export type { EncoderConfig } from './create.ts';
