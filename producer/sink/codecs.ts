// Compression codecs for kafkajs (kafka.compression). gzip is built into
// kafkajs; the others are implemented here, all without native modules, and
// registered with kafkajs by kafka.ts (this file does not load kafkajs, so the
// config schema can import COMPRESSIONS):
//   snappy  kafkajs-snappy (snappyjs, pure JS; raw snappy blocks, reads xerial framing too)
//   lz4     lz4js's block compressor (pure JS) in the LZ4 frame format Kafka reads
//   zstd    node:zlib's built-in Zstandard (Node >= 22.15 / 23.8), on the libuv thread pool
// (kafkajs-lz4 and @kafkajs/zstd need native builds that fail on Node 24 here.)
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** The kafkajs codec contract: compress gets kafkajs's Encoder (its .buffer is the payload). */
export interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

interface Lz4js {
  compressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array): number;
  decompress(src: Uint8Array, maxSize?: number): Uint8Array | number[];
}
interface Xxh32 { hash(seed: number, buf: Uint8Array, offset: number, length: number): number }

const toBuffer = (a: Uint8Array | number[]): Buffer =>
  a instanceof Uint8Array ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : Buffer.from(a);

const LZ4_MAGIC = 0x184d2204;
const LZ4_BLOCK = 64 * 1024;
/** FLG: version 01, blocks independent (Kafka refuses dependent blocks), no checksums, no content size. */
const LZ4_FLG = 0x60;
/** BD: 64 KiB maximum block size (what Kafka's own producer writes). */
const LZ4_BD = 0x40;

/**
 * LZ4 frame (the format of Kafka's KafkaLZ4BlockOutputStream: independent
 * 64 KiB blocks, header checksum over FLG+BD) with lz4js's block compressor.
 * lz4js's own compressFrame marks blocks as dependent, which brokers refuse
 * ("Dependent block stream is unsupported").
 */
export function lz4FrameCompress(src: Uint8Array): Buffer {
  const lz4 = require('lz4js') as Lz4js;
  const xxh = require('lz4js/xxh32.js') as Xxh32;
  const blocks = Math.ceil(src.length / LZ4_BLOCK);
  const out = Buffer.allocUnsafe(7 + blocks * (4 + LZ4_BLOCK) + 4);
  out.writeUInt32LE(LZ4_MAGIC, 0);
  out[4] = LZ4_FLG;
  out[5] = LZ4_BD;
  out[6] = (xxh.hash(0, out, 4, 2) >>> 8) & 0xff;
  let pos = 7;
  const hashTable = new Uint32Array(1 << 16);
  const scratch = new Uint8Array(LZ4_BLOCK + (LZ4_BLOCK >> 8) + 16);
  for (let start = 0; start < src.length; start += LZ4_BLOCK) {
    const len = Math.min(LZ4_BLOCK, src.length - start);
    const block = src.subarray(start, start + len);
    hashTable.fill(0);
    const n = lz4.compressBlock(block, scratch, 0, len, hashTable);
    if (n > 0 && n < len) {
      out.writeUInt32LE(n, pos);
      out.set(scratch.subarray(0, n), pos + 4);
      pos += 4 + n;
    } else {
      out.writeUInt32LE((0x80000000 | len) >>> 0, pos);
      out.set(block, pos + 4);
      pos += 4 + len;
    }
  }
  out.writeUInt32LE(0, pos); // end mark
  return out.subarray(0, pos + 4);
}

/** LZ4 for kafkajs: our frame writer; lz4js reads any frame (checksums, content size, dependent blocks). */
export function lz4Codec(): KafkajsCodec {
  const lz4 = require('lz4js') as Lz4js;
  return {
    async compress(encoder) { return lz4FrameCompress(encoder.buffer); },
    async decompress(buffer) { return toBuffer(lz4.decompress(buffer)); },
  };
}

type ZstdFn = (buf: Buffer, opts?: object) => Promise<Buffer>;

/** True when this Node has Zstandard in node:zlib. */
export function zstdAvailable(): boolean {
  return typeof (zlib as { zstdCompress?: unknown }).zstdCompress === 'function';
}

/** Zstandard over node:zlib (level 3, zstd's default). */
export function zstdCodec(level = 3): KafkajsCodec {
  if (!zstdAvailable()) throw new Error('zstd compression needs Node >= 22.15 (node:zlib zstdCompress)');
  const z = zlib as unknown as { zstdCompress: (b: Buffer, o: object, cb: (e: Error | null, r: Buffer) => void) => void;
    zstdDecompress: (b: Buffer, o: object, cb: (e: Error | null, r: Buffer) => void) => void; constants: Record<string, number> };
  const compress = promisify(z.zstdCompress) as ZstdFn;
  const decompress = promisify(z.zstdDecompress) as ZstdFn;
  const params = { params: { [z.constants.ZSTD_c_compressionLevel as number]: level } };
  return {
    async compress(encoder) { return compress(encoder.buffer, params); },
    async decompress(buffer) { return decompress(buffer, {}); },
  };
}

export function snappyCodec(): KafkajsCodec {
  const factory = require('kafkajs-snappy') as () => KafkajsCodec;
  return factory();
}
