// What every record encoder offers the Kafka sink.
import type { NetTCPConnect } from '../model/net-tcp-connect.ts';

/** encoding.format: what each record is written as on the topic. */
export const ENCODINGS = ['avro', 'ecs-json'] as const;
export type EncodingFormat = (typeof ENCODINGS)[number];

/**
 * Turns one NetTCPConnect into the bytes of one Kafka message value.
 * encode() is synchronous and must not keep a reference to the record.
 * The returned Buffer may be a view into a larger slab owned by the encoder:
 * callers must not write into it.
 */
export interface RecordEncoder {
  encode(r: NetTCPConnect): Buffer;
  readonly format: EncodingFormat;
}
