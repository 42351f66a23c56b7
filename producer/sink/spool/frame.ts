// The spool's on-disk formats: a segment file is a header (magic + version)
// followed by records, each framed so that a torn write or a flipped bit is
// detected on reading:
//
//   u32 BE  body length          (RECORD_BODY_MIN .. MAX_RECORD_BODY)
//   u32 BE  CRC32 of the body    (zlib's crc32, the one gzip and PNG use)
//   body:   f64 BE  timestamp, epoch ms (the Kafka message timestamp)
//           i32 BE  key length in bytes, -1: no key
//           key (UTF-8), value (the encoded record, as sent to Kafka)
//
// Frames are written many at a time into one buffer (FrameWriter) and read
// back from a chunk of a file (readFrame), never one syscall per record.
import { crc32 } from 'node:zlib';

/** "CTSP" + format version 1. */
export const SEGMENT_MAGIC = Buffer.from('CTSP\0\0\0\x01', 'latin1');
export const SEGMENT_HEADER_BYTES = SEGMENT_MAGIC.length;
export const FRAME_HEADER_BYTES = 8;
/** Timestamp + key length. */
export const RECORD_BODY_MIN = 12;
/** Largest body accepted: a length beyond it is corruption, not a record (conntrail's records are a few hundred bytes). */
export const MAX_RECORD_BODY = 16 * 1024 * 1024;

/** One spooled record, as the sink's queue holds it. */
export interface SpoolRecord {
  value: Buffer;
  key: string | null;
  timestampMs: number;
}

/** Bytes a record takes on disk, framing included. */
export function frameBytes(value: Buffer, key: string | null): number {
  return FRAME_HEADER_BYTES + RECORD_BODY_MIN + (key === null ? 0 : Buffer.byteLength(key)) + value.length;
}

/**
 * Frames records into one reusable buffer (grown when a burst needs more), so
 * a push of many records is one write.
 */
export class FrameWriter {
  #buf = Buffer.allocUnsafe(64 * 1024);
  #len = 0;

  get length(): number { return this.#len; }

  reset(): void { this.#len = 0; }

  /** Appends one frame; returns its size in bytes. */
  add(value: Buffer, key: string | null, timestampMs: number): number {
    const keyBytes = key === null ? 0 : Buffer.byteLength(key);
    const body = RECORD_BODY_MIN + keyBytes + value.length;
    const size = FRAME_HEADER_BYTES + body;
    this.#reserve(size);
    const b = this.#buf;
    const o = this.#len;
    b.writeUInt32BE(body, o);
    b.writeDoubleBE(timestampMs, o + 8);
    b.writeInt32BE(key === null ? -1 : keyBytes, o + 16);
    if (key !== null) b.write(key, o + 20, keyBytes, 'utf8');
    value.copy(b, o + 20 + keyBytes);
    b.writeUInt32BE(crc32(b.subarray(o + 8, o + size)), o + 4);
    this.#len += size;
    return size;
  }

  /** Removes the frames past `length` (a record that did not fit after all). */
  truncate(length: number): void { this.#len = Math.min(this.#len, length); }

  /** The frames written since reset(), a view valid until the next add(). */
  bytes(): Buffer { return this.#buf.subarray(0, this.#len); }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }
}

/** What is at an offset of a chunk. */
export type FrameRead =
  | { kind: 'record'; size: number; timestampMs: number; key: string | null; value: Buffer }
  /** The chunk ends inside the frame: read more (or, at the end of the file, a torn write). */
  | { kind: 'partial'; need: number }
  | { kind: 'corrupt'; why: string };

/** Reads the frame at `offset` of `chunk`; the value is copied out (the chunk is reused). */
export function readFrame(chunk: Buffer, offset: number, end: number = chunk.length): FrameRead {
  const avail = end - offset;
  if (avail < FRAME_HEADER_BYTES) return { kind: 'partial', need: FRAME_HEADER_BYTES };
  const body = chunk.readUInt32BE(offset);
  if (body < RECORD_BODY_MIN || body > MAX_RECORD_BODY) return { kind: 'corrupt', why: `bad record length ${body}` };
  const size = FRAME_HEADER_BYTES + body;
  if (avail < size) return { kind: 'partial', need: size };
  const b = offset + FRAME_HEADER_BYTES;
  if (crc32(chunk.subarray(b, b + body)) !== chunk.readUInt32BE(offset + 4)) return { kind: 'corrupt', why: 'CRC mismatch' };
  const timestampMs = chunk.readDoubleBE(b);
  const keyLen = chunk.readInt32BE(b + 8);
  if (keyLen < -1 || RECORD_BODY_MIN + Math.max(0, keyLen) > body) return { kind: 'corrupt', why: `bad key length ${keyLen}` };
  const k = b + RECORD_BODY_MIN;
  const key = keyLen < 0 ? null : chunk.toString('utf8', k, k + keyLen);
  const v = k + Math.max(0, keyLen);
  const value = Buffer.from(chunk.subarray(v, b + body));
  return { kind: 'record', size, timestampMs, key, value };
}

/** True when `header` is a segment header of this format. */
export function isSegmentHeader(header: Buffer): boolean {
  return header.length >= SEGMENT_HEADER_BYTES && header.subarray(0, SEGMENT_HEADER_BYTES).equals(SEGMENT_MAGIC);
}
