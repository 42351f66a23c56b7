// Encoders for the Kafka message values: Avro (Confluent wire format) or ECS JSON.
export type { RecordEncoder, EncodingFormat } from './types.ts';
export {
  AvroEncoder, loadBundledSchema, avroType, readWireFrame, WireFormatError,
  SCHEMA_FILE, RECORD_FULL_NAME, MAGIC_BYTE, WIRE_HEADER_BYTES,
} from './avro.ts';
export type { AvroEncoderOptions, BundledSchema, AvroRecordSchema, AvroField } from './avro.ts';
export { EcsJsonEncoder, ecsJson, isoMicros, ECS_FIELD_MAP, ECS_VERSION, ECS_EVENT_ACTION, ECS_EVENT_MODULE, ECS_EVENT_DATASET } from './ecs.ts';
export { sampleRecord, sparseRecord } from './sample.ts';
export { createEncoder } from './create.ts';
export type { EncoderConfig } from './create.ts';
