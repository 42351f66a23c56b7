// What every record encoder offers the Kafka sink.
import type { NetTCPConnect } from '../model/net-tcp-connect.ts';

export type EncodingFormat = 'avro' | 'ecs-json';

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
