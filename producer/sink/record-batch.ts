// kafkajs 2.2.4's RecordBatch (protocol/recordBatch/v0) and Record
// (protocol/recordBatch/record/v0) rewritten to encode a whole batch in one
// pass into one buffer: kafkajs builds a new Encoder (a zero-filled 512-byte
// Buffer) per record, a Buffer per varint, a BigInt-backed Long per timestamp
// delta, then copies the records into the batch body, the body into the batch
// and the batch into its frame, and computes CRC32C byte by byte in JS.
//
// The output is byte-identical to kafkajs's for the same input, down to its
// quirks (sizes computed as kafkajs computes them, the same errors for the
// inputs it rejects); test/unit/record-batch.test.ts compares both encoders.
// kafkajs-patch.ts puts these in Node's require cache in place of kafkajs's
// modules; nothing else should call them.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** kafkajs's Encoder, as much of it as this module uses. */
export interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  readonly buffer: Buffer;
  size(): number;
  writeInt8(v: number): KafkajsEncoder;
  writeInt16(v: number): KafkajsEncoder;
  writeInt32(v: number): KafkajsEncoder;
  writeUInt32(v: number): KafkajsEncoder;
  writeInt64(v: unknown): KafkajsEncoder;
  writeVarLong(v: unknown): KafkajsEncoder;
  writeString(v: string | null | undefined): KafkajsEncoder;
}
export interface KafkajsEncoderClass {
  new (initialSize?: number): KafkajsEncoder;
  sizeOfVarLong(v: unknown): number;
}
interface KafkajsLong { fromInt(v: number): unknown; fromValue(v: unknown): unknown }
interface KafkajsCompression {
  Types: { None: number };
  lookupCodec(type: number): { compress(encoder: KafkajsEncoder): Promise<Buffer> } | null;
  COMPRESSION_CODEC_MASK: number;
}

/** The kafkajs internals the encoder needs, resolved from kafkajs's own directory. */
export interface KafkajsInternals {
  srcDir: string;
  Encoder: KafkajsEncoderClass;
  Long: KafkajsLong;
  compression: KafkajsCompression;
  crc32C: (buf: Buffer) => number;
}

/** Loads the internals from kafkajs's src/ directory (does not load kafkajs's index). */
export function loadInternals(srcDir: string, crc32C: (buf: Buffer) => number): KafkajsInternals {
  return {
    srcDir,
    Encoder: require(`${srcDir}/protocol/encoder.js`) as KafkajsEncoderClass,
    Long: require(`${srcDir}/utils/long.js`) as KafkajsLong,
    compression: require(`${srcDir}/protocol/message/compression/index.js`) as KafkajsCompression,
    crc32C,
  };
}

type Headers = Record<string, unknown>;

/** What kafkajs's Record(...) returns here: the record's fields, encoded later by RecordBatch. */
export class PendingRecord {
  readonly offsetDelta: number;
  readonly timestampDelta: number;
  readonly key: unknown;
  readonly value: unknown;
  readonly headers: Headers;
  constructor(offsetDelta: number, timestampDelta: number, key: unknown, value: unknown, headers: Headers) {
    this.offsetDelta = offsetDelta;
    this.timestampDelta = timestampDelta;
    this.key = key;
    this.value = value;
    this.headers = headers;
  }
}

interface RecordArgs { offsetDelta?: number; timestampDelta?: number; key?: unknown; value?: unknown; headers?: Headers }

/** Drop-in for kafkajs's protocol/recordBatch/record/v0 (same defaults). */
export function recordV0({ offsetDelta = 0, timestampDelta = 0, key, value, headers = {} }: RecordArgs): PendingRecord {
  return new PendingRecord(offsetDelta, timestampDelta, key, value, headers);
}

// ---- varints, exactly as kafkajs's Encoder computes them (32-bit zigzag, 0xffffff80 loop) ----
const UNSIGNED_INT32_MAX_NUMBER = 0xffffff80;
const zigZag = (v: number): number => (v << 1) ^ (v >> 31);

function sizeOfUVarInt(value: number): number {
  let bytes = 1;
  while ((value & UNSIGNED_INT32_MAX_NUMBER) !== 0) {
    bytes += 1;
    value >>>= 7;
  }
  return bytes;
}
const sizeOfVarInt = (v: number): number => sizeOfUVarInt(zigZag(v));

/** A varlong that a 32-bit zigzag encodes the same way as kafkajs's 64-bit one. */
const smallLong = (v: number): boolean => Number.isInteger(v) && v >= -0x40000000 && v < 0x40000000;

function byteLength(v: unknown): number {
  return Buffer.byteLength(v as string);
}

/** kafkajs's Encoder.sizeOfVarIntBytes. */
function sizeOfVarIntBytes(value: unknown): number {
  const size = value == null ? -1 : byteLength(value);
  if (size < 0) return 1; // sizeOfVarInt(-1)
  return sizeOfVarInt(size) + size;
}

interface HeaderEntry { key: string; value: unknown }

/** kafkajs's record/v0 headersArray. */
function headersArrayOf(headers: Headers): HeaderEntry[] {
  return Object.keys(headers).flatMap((headerKey) => {
    const v = headers[headerKey];
    return !Array.isArray(v) ? [{ key: headerKey, value: v }] : v.map((headerValue: unknown) => ({ key: headerKey, value: headerValue }));
  });
}

/** kafkajs's record/v0 sizeOfHeaders. */
function sizeOfHeaders(headersArray: HeaderEntry[]): number {
  let size = sizeOfVarInt(headersArray.length);
  for (const header of headersArray) {
    const keySize = byteLength(header.key);
    const valueSize = byteLength(header.value);
    size += sizeOfVarInt(keySize) + keySize;
    if (header.value === null) size += sizeOfVarInt(-1);
    else size += sizeOfVarInt(valueSize) + valueSize;
  }
  return size;
}

const EMPTY: HeaderEntry[] = [];
function hasKeys(o: Headers): boolean {
  // not an object (null included): whatever Object.keys makes of it, as kafkajs (null throws there too)
  if (typeof o !== 'object' || o === null) return Object.keys(o).length > 0;
  for (const k in o) if (Object.hasOwn(o, k)) return true;
  return false;
}

/** A growing output buffer (sized up front, so it grows only on inputs kafkajs mis-sizes itself). */
class Out {
  buf: Buffer;
  off: number;
  constructor(capacity: number, start: number) {
    this.buf = Buffer.allocUnsafe(Math.max(capacity, start + 16));
    this.off = start;
  }

  ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  uvarint(value: number): void {
    this.ensure(5);
    const b = this.buf;
    let o = this.off;
    while ((value & UNSIGNED_INT32_MAX_NUMBER) !== 0) {
      b[o++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    b[o++] = value & 0x7f;
    this.off = o;
  }

  varint(v: number): void {
    this.uvarint(zigZag(v));
  }

  bytes(src: Uint8Array): void {
    this.ensure(src.length);
    this.buf.set(src, this.off);
    this.off += src.length;
  }

  utf8(s: string, n: number): void {
    this.ensure(n);
    this.buf.write(s, this.off, n, 'utf8');
    this.off += n;
  }

  /** kafkajs's Encoder.writeVarIntBytes. */
  varIntBytes(value: unknown): void {
    if (value == null) {
      this.varint(-1);
    } else if (Buffer.isBuffer(value)) {
      this.varint(value.length);
      this.bytes(value);
    } else {
      const s = String(value);
      const n = Buffer.byteLength(s, 'utf8');
      this.varint(n);
      this.utf8(s, n);
    }
  }

  /** kafkajs's Encoder.writeVarIntString. */
  varIntString(value: string | null | undefined): void {
    if (value == null) {
      this.varint(-1);
      return;
    }
    const n = Buffer.byteLength(value, 'utf8');
    this.varint(n);
    this.utf8(value, n);
  }
}

const MAGIC_BYTE = 2;
const TIMESTAMP_MASK = 0;
const TRANSACTIONAL_MASK = 16;
/** Bytes from FirstOffset to FirstSequence: 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4. */
const HEADER_SIZE = 57;
/** Offset of the CRC field, and of the first byte the CRC covers (Attributes). */
const CRC_AT = 17;
const CRC_FROM = 21;

interface RecordBatchArgs {
  compression?: number;
  firstOffset?: unknown;
  firstTimestamp?: unknown;
  maxTimestamp?: unknown;
  partitionLeaderEpoch?: number;
  lastOffsetDelta?: number;
  transactional?: boolean;
  producerId?: unknown;
  producerEpoch?: number;
  firstSequence?: number;
  records?: unknown[];
}

interface EncoderLike { buf: Buffer; buffer: Buffer }
const isEncoder = (r: unknown): r is EncoderLike => r != null && Buffer.isBuffer((r as EncoderLike).buf);

/** What a record is encoded from: a PendingRecord, or a message of a Produce request. */
interface RecordItem { key?: unknown; value?: unknown; headers?: Headers }

/** One batch's records: the items with their offset deltas (i when null) and timestamp deltas. */
export interface Batch {
  items: RecordItem[];
  ods: ArrayLike<number> | null;
  tds: ArrayLike<number>;
  /** Records given as kafkajs Encoders instead (copied as they are). */
  raw?: EncoderLike[];
  /** Record count. */
  n: number;
  sizes: Int32Array;
  headerLists: (HeaderEntry[] | undefined)[];
}

export function newBatch(items: RecordItem[], ods: ArrayLike<number> | null, tds: ArrayLike<number>): Batch {
  return { items, ods, tds, n: items.length, sizes: new Int32Array(items.length), headerLists: new Array<HeaderEntry[] | undefined>(items.length) };
}

/** Drop-in for kafkajs's protocol/recordBatch/v0 module ({ RecordBatch, MAGIC_BYTE }). */
export function recordBatchModule(k: KafkajsInternals): {
  RecordBatch: (args: RecordBatchArgs) => Promise<KafkajsEncoder>;
  MAGIC_BYTE: number;
  /** RecordBatch from a Batch (not part of kafkajs's module). */
  encodeBatch: (args: RecordBatchArgs, b: Batch) => Promise<KafkajsEncoder>;
} {
  const { Encoder, Long, compression: C, crc32C } = k;

  /**
   * Writes the records at out.off: items[i]'s key, value and headers, offset delta
   * ods[i] (i when ods is null), timestamp delta tds[i]; or, when the batch was
   * given kafkajs Encoders (raw), their bytes.
   */
  function writeRecords(out: Out, b: Batch): void {
    const { items, ods, tds, sizes, headerLists } = b;
    if (b.raw) {
      for (const r of b.raw) out.bytes(r.buffer);
      return;
    }
    for (let i = 0; i < items.length; i++) {
      const r = items[i]!;
      out.ensure(5 + sizes[i]!);
      out.varint(sizes[i]!);
      out.buf[out.off++] = 0; // attributes
      const td = tds[i]!;
      if (smallLong(td)) out.uvarint(td >= 0 ? td * 2 : -td * 2 - 1);
      else out.bytes(new Encoder(16).writeVarLong(td).buffer);
      out.varint(ods === null ? i : ods[i]!);
      out.varIntBytes(r.key);
      out.varIntBytes(r.value);
      const hs = headerLists[i] ?? EMPTY;
      out.varint(hs.length);
      for (const h of hs) {
        out.varIntString(h.key);
        out.varIntBytes(h.value);
      }
    }
  }

  /** Sizes every record as kafkajs does (into b.sizes, b.headerLists); returns the bytes the records take. */
  function sizeRecords(b: Batch): number {
    const { items, ods, tds, sizes, headerLists } = b;
    let total = 0;
    if (b.raw) {
      for (const r of b.raw) total += r.buffer.length;
      return total;
    }
    for (let i = 0; i < items.length; i++) {
      const r = items[i]!;
      const h = r.headers;
      const hs = h !== undefined && hasKeys(h) ? headersArrayOf(h) : EMPTY;
      if (hs !== EMPTY) headerLists[i] = hs;
      const td = tds[i]!;
      const body =
        1 +
        (smallLong(td) ? sizeOfUVarInt(td >= 0 ? td * 2 : -td * 2 - 1) : Encoder.sizeOfVarLong(td)) +
        sizeOfVarInt(ods === null ? i : ods[i]!) +
        sizeOfVarIntBytes(r.key) +
        sizeOfVarIntBytes(r.value) +
        (hs === EMPTY ? 1 : sizeOfHeaders(hs));
      sizes[i] = body;
      total += sizeOfVarInt(body) + body;
    }
    return total;
  }

  /** kafkajs's RecordBatch({ records: [Record(...)] }) for PendingRecords, or for Encoders. */
  async function RecordBatch(args: RecordBatchArgs): Promise<KafkajsEncoder> {
    const records = args.records ?? [];
    let batch: Batch;
    if (records.every((r) => r instanceof PendingRecord)) {
      batch = newBatch(records, records.map((r) => r.offsetDelta), records.map((r) => r.timestampDelta));
    } else if (records.every(isEncoder)) {
      batch = { ...newBatch([], null, []), raw: records, n: records.length };
    } else {
      throw new Error('all values should be an instance of Encoder[]');
    }
    return encodeBatch(args, batch);
  }

  async function encodeBatch({
    compression = C.Types.None,
    firstOffset = Long.fromInt(0),
    firstTimestamp = Date.now(),
    maxTimestamp = Date.now(),
    partitionLeaderEpoch = 0,
    lastOffsetDelta = 0,
    transactional = false,
    producerId = Long.fromValue(-1),
    producerEpoch = 0,
    firstSequence = 0,
  }: RecordBatchArgs, b: Batch): Promise<KafkajsEncoder> {
    const attributes = (compression & C.COMPRESSION_CODEC_MASK) | TIMESTAMP_MASK | (transactional ? TRANSACTIONAL_MASK : 0);
    const head = new Encoder(64)
      .writeInt64(firstOffset)
      .writeInt32(0) // Length, below
      .writeInt32(partitionLeaderEpoch)
      .writeInt8(MAGIC_BYTE)
      .writeUInt32(0) // CRC, below
      .writeInt16(attributes)
      .writeInt32(lastOffsetDelta)
      .writeInt64(firstTimestamp)
      .writeInt64(maxTimestamp)
      .writeInt64(producerId)
      .writeInt16(producerEpoch)
      .writeInt32(firstSequence);

    const recordBytes = sizeRecords(b);

    let out: Out;
    if (compression === C.Types.None) {
      out = new Out(HEADER_SIZE + 4 + recordBytes, HEADER_SIZE);
      out.buf.writeInt32BE(b.n, out.off);
      out.off += 4;
      writeRecords(out, b);
    } else {
      const codec = C.lookupCodec(compression);
      const raw = new Out(recordBytes, 0);
      writeRecords(raw, b);
      const recordsEncoder = new Encoder(0);
      recordsEncoder.buf = raw.buf;
      recordsEncoder.offset = raw.off;
      // kafkajs: codec.compress(recordsEncoder), a TypeError when lookupCodec found none
      const compressed = await (codec as NonNullable<typeof codec>).compress(recordsEncoder);
      if (!Buffer.isBuffer(compressed)) throw new Error('value should be an instance of Buffer');
      out = new Out(HEADER_SIZE + 4 + compressed.length, HEADER_SIZE);
      out.buf.writeInt32BE(b.n, out.off);
      out.off += 4;
      out.bytes(compressed);
    }

    const buf = out.buf;
    head.buf.copy(buf, 0, 0, HEADER_SIZE);
    buf.writeInt32BE(out.off - 12, 8);
    buf.writeUInt32BE(crc32C(buf.subarray(CRC_FROM, out.off)), CRC_AT);
    const result = new Encoder(0);
    result.buf = buf;
    result.offset = out.off;
    return result;
  }

  return { RecordBatch, MAGIC_BYTE, encodeBatch };
}

// ---- the Produce request (protocol/requests/produce/v3/request.js, which v4-v7 reuse) ----
// kafkajs encodes each partition into an Encoder, copies those into a topic
// Encoder and the topics into the request's, growing (and zero-filling) each
// by doubling. Here the parts are encoded as kafkajs does and copied once into
// one buffer of the exact size.

interface ProduceMessage { key?: unknown; value?: unknown; headers?: Headers; timestamp?: unknown }
interface ProducePartition { partition: number; messages: ProduceMessage[]; firstSequence?: number }
interface ProduceTopic { topic: string; partitions: ProducePartition[] }
interface ProduceArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: ProduceTopic[];
}

/** The first and last of kafkajs's `timestamps.sort()` (default order: by String(x), stable). */
function firstAndLast(messages: ProduceMessage[]): [unknown, unknown] | undefined {
  let first: unknown;
  let last: unknown;
  let firstS = '';
  let lastS = '';
  let any = false;
  for (const m of messages) {
    const t = m.timestamp;
    if (t == null) continue;
    const s = String(t);
    if (!any) {
      any = true;
      first = last = t;
      firstS = lastS = s;
      continue;
    }
    if (s < firstS) { first = t; firstS = s; }
    if (s >= lastS) { last = t; lastS = s; }
  }
  return any ? [first, last] : undefined;
}

/** Drop-in for kafkajs's protocol/requests/produce/v3/request.js. */
export function produceRequestV3Module(
  k: KafkajsInternals,
  encodeBatch: (args: RecordBatchArgs, b: Batch) => Promise<KafkajsEncoder>,
): (args: ProduceArgs) => { apiKey: number; apiVersion: number; apiName: string; expectResponse: () => boolean; encode: () => Promise<KafkajsEncoder> } {
  const { Encoder, Long, compression: C } = k;
  const apiKey = (require(`${k.srcDir}/protocol/requests/apiKeys.js`) as { Produce: number }).Produce;

  async function encodePartition(
    compression: number,
    { messages, firstSequence, transactionalId, producerId, producerEpoch }: ProducePartition & { transactionalId: string | null; producerId: unknown; producerEpoch: number },
  ): Promise<KafkajsEncoder> {
    const dateNow = Date.now();
    const ends = firstAndLast(messages);
    const firstTimestamp = ends ? ends[0] : dateNow;
    const maxTimestamp = ends ? ends[1] : dateNow;
    // `x - firstTimestamp` converts a string or number firstTimestamp the same way each time: once here
    const first = (typeof firstTimestamp === 'string' ? Number(firstTimestamp) : firstTimestamp) as number;
    const n = messages.length;
    const items = new Array<ProduceMessage>(n);
    const tds = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const message = messages[i]!;
      // kafkajs: Record({ ...message, offsetDelta: i, timestampDelta }); reading the
      // fields directly is the same for plain objects (own properties only)
      const m: ProduceMessage = typeof message === 'object' && message !== null && Object.getPrototypeOf(message) === Object.prototype ? message : { ...message };
      items[i] = m;
      tds[i] = ((m.timestamp as number) || dateNow) - first;
    }
    return encodeBatch({
      compression,
      firstTimestamp,
      maxTimestamp,
      producerId,
      producerEpoch,
      firstSequence,
      transactional: !!transactionalId,
      lastOffsetDelta: n - 1,
    }, newBatch(items, null, tds));
  }

  return ({ acks, timeout, transactionalId = null, producerId = Long.fromInt(-1), producerEpoch = 0, compression = C.Types.None, topicData }) => ({
    apiKey,
    apiVersion: 3,
    apiName: 'Produce',
    expectResponse: () => acks !== 0,
    encode: async () => {
      const chunks: Buffer[] = [];
      const head = new Encoder(64).writeString(transactionalId).writeInt16(acks).writeInt32(timeout).writeInt32(topicData.length);
      chunks.push(head.buffer);
      for (const data of topicData) {
        const { topic, partitions } = data;
        const encoded: KafkajsEncoder[] = [];
        for (const p of partitions) encoded.push(await encodePartition(compression, { ...p, transactionalId, producerId, producerEpoch }));
        chunks.push(new Encoder(64).writeString(topic).writeInt32(encoded.length).buffer);
        for (let i = 0; i < partitions.length; i++) {
          const batch = encoded[i]!;
          chunks.push(new Encoder(8).writeInt32(partitions[i]!.partition).writeInt32(batch.size()).buffer, batch.buffer);
        }
      }
      return chunkedEncoder(Encoder, chunks);
    },
  });
}

const CHUNKS = Symbol('conntrail.chunks');
type Chunked = KafkajsEncoder & { [CHUNKS]?: Buffer[] };

/**
 * A kafkajs Encoder holding its bytes as chunks, concatenated on first use of
 * .buf (so it is still an Encoder to anyone). requestModule frames the chunks
 * directly, which saves copying the whole Produce request once.
 */
function chunkedEncoder(Encoder: KafkajsEncoderClass, chunks: Buffer[]): KafkajsEncoder {
  const e = new Encoder(0) as Chunked;
  let buf: Buffer | undefined;
  let length = 0;
  for (const c of chunks) length += c.length;
  Object.defineProperty(e, 'buf', {
    configurable: true,
    enumerable: true,
    get: () => {
      if (buf === undefined) {
        buf = Buffer.concat(chunks, length);
        e[CHUNKS] = undefined; // from here on the buffer is the truth (it may be written to)
      }
      return buf;
    },
    set: (b: Buffer) => { buf = b; },
  });
  e.offset = length;
  e[CHUNKS] = chunks;
  return e;
}

function encoderOf(Encoder: KafkajsEncoderClass, buf: Buffer, length = buf.length): KafkajsEncoder {
  const e = new Encoder(0);
  e.buf = buf;
  e.offset = length;
  return e;
}

interface RequestArgs { correlationId: number; clientId: string; request: { apiKey: number; apiVersion: number; encode: () => Promise<KafkajsEncoder> } }

/** Drop-in for kafkajs's protocol/request.js: the framed request, the payload copied once. */
export function requestModule(k: KafkajsInternals): (args: RequestArgs) => Promise<KafkajsEncoder> {
  const { Encoder } = k;
  return async ({ correlationId, clientId, request: { apiKey, apiVersion, encode } }) => {
    const payload = await encode();
    if (payload == null || !Buffer.isBuffer(payload.buf)) throw new Error('value should be an instance of Encoder');
    const head = new Encoder(64).writeInt32(0).writeInt16(apiKey).writeInt16(apiVersion).writeInt32(correlationId).writeString(clientId);
    const size = head.offset - 4 + payload.offset;
    head.buf.writeInt32BE(size, 0);
    const chunks = (payload as Chunked)[CHUNKS];
    if (chunks) return encoderOf(Encoder, Buffer.concat([head.buffer, ...chunks], 4 + size));
    const buf = Buffer.allocUnsafe(4 + size);
    head.buf.copy(buf, 0, 0, head.offset);
    payload.buf.copy(buf, head.offset, 0, payload.offset);
    return encoderOf(Encoder, buf);
  };
}
