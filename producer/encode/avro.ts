// Avro encoding in the Confluent wire format: byte 0 (magic), the schema id as a
// 4-byte big-endian integer, then the Avro binary body. The schema id is resolved
// once at startup (producer/registry); encoding is then synchronous avsc
// writing into a reusable slab, with no per-record promise or copy. The fields
// that are the same in every record (eventName, host) are copied from bytes
// encoded once (avro-constant.ts) when the writer schema allows it, and so are
// the per-process fields (argv, lineage) for each process.
import avsc from 'avsc';
import { loadBundledSchema } from '../model/avro-schema.ts';
import type { NetTCPConnect } from '../model/net-tcp-connect.ts';
import { sampleRecord, sparseRecord } from '../model/sample.ts';
import { buildConstantWriter } from './avro-constant.ts';
import type { AvroTap, ConstantWriter } from './avro-constant.ts';
import type { RecordEncoder } from './types.ts';

export const MAGIC_BYTE = 0;
/** Magic byte + 4-byte schema id. */
export const WIRE_HEADER_BYTES = 5;

/** Thrown when a buffer is not in the Confluent wire format. */
export class WireFormatError extends Error {
  override name = 'WireFormatError';
}

/** Splits a Confluent-framed message into its schema id and Avro body (a view, no copy). */
export function readWireFrame(buf: Buffer): { schemaId: number; body: Buffer } {
  if (buf.length < WIRE_HEADER_BYTES || buf[0] !== MAGIC_BYTE) {
    throw new WireFormatError(`not a Confluent-framed Avro message (length ${buf.length}, first byte ${buf[0]})`);
  }
  return { schemaId: buf.readUInt32BE(1), body: buf.subarray(WIRE_HEADER_BYTES) };
}

export interface AvroEncoderOptions {
  /**
   * Bytes of each slab the records are encoded into; a record's value is a view
   * into the slab (one allocation per slab, not per record). A slab stays in
   * memory while any of its records is queued. Default 64 KiB.
   */
  slabBytes?: number;
  /**
   * Copy the constant fields (eventName, host) from bytes encoded once, and the
   * per-process fields from bytes encoded once per process, when the writer
   * schema allows it (default true); false: plain avsc for every field.
   */
  constantFields?: boolean;
}

/**
 * Synchronous Avro encoder for one writer schema and its registry id.
 * Throws (from avsc) when a record does not fit the schema.
 */
export class AvroEncoder implements RecordEncoder {
  readonly format = 'avro' as const;
  readonly schemaId: number;
  readonly type: avsc.Type;
  /**
   * Fields written from bytes encoded once (writer order); empty when the writer
   * schema does not allow it and every record is encoded by avsc alone.
   */
  readonly constantFields: readonly string[];
  /** Fields written from bytes cached per process ("process.args"...), in writer order; empty as constantFields. */
  readonly sharedFields: readonly string[];
  readonly #slabBytes: number;
  readonly #writer: ConstantWriter | undefined;
  readonly #tap: AvroTap | undefined;
  #slab: Buffer;
  #pos = 0;

  /** `type` defaults to the bundled schema; pass the registered writer schema when it differs. */
  constructor(schemaId: number, type: avsc.Type = loadBundledSchema().type, options: AvroEncoderOptions = {}) {
    if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0xffffffff) {
      throw new RangeError(`schema id must be a 32-bit unsigned integer, got ${schemaId}`);
    }
    this.schemaId = schemaId;
    this.type = type;
    this.#slabBytes = Math.max(options.slabBytes ?? 64 * 1024, 256);
    this.#slab = Buffer.allocUnsafeSlow(this.#slabBytes);
    this.#writer = options.constantFields === false ? undefined : buildConstantWriter(type, [sampleRecord(), sparseRecord()]);
    this.#tap = this.#writer?.newTap(this.#slab, 0);
    this.constantFields = this.#writer?.constantFields ?? [];
    this.sharedFields = this.#writer?.sharedFields ?? [];
  }

  /** As avsc's Type#encode: the end position, or minus the bytes missing when it did not fit. */
  #encodeAt(r: NetTCPConnect, slab: Buffer, pos: number): number {
    const tap = this.#tap;
    if (tap === undefined) return this.type.encode(r, slab, pos);
    tap.buf = slab;
    tap.pos = pos;
    this.#writer!.write(tap, r);
    return tap.pos <= slab.length ? tap.pos : slab.length - tap.pos;
  }

  encode(r: NetTCPConnect): Buffer {
    let slab = this.#slab;
    let start = this.#pos;
    if (slab.length - start < 64) {
      slab = this.#newSlab(this.#slabBytes);
      start = 0;
    }
    let end = this.#encodeAt(r, slab, start + WIRE_HEADER_BYTES);
    if (end < 0) {
      // Did not fit: -end bytes were missing. Encode again into a fresh slab big enough.
      const need = slab.length - start - end + WIRE_HEADER_BYTES;
      slab = this.#newSlab(Math.max(this.#slabBytes, need));
      start = 0;
      end = this.#encodeAt(r, slab, WIRE_HEADER_BYTES);
      if (end < 0) throw new Error('avro encode: record did not fit its computed size');
    }
    slab[start] = MAGIC_BYTE;
    slab.writeUInt32BE(this.schemaId, start + 1);
    this.#pos = end;
    return slab.subarray(start, end);
  }

  #newSlab(bytes: number): Buffer {
    this.#slab = Buffer.allocUnsafeSlow(bytes);
    this.#pos = 0;
    return this.#slab;
  }
}
