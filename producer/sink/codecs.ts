// Compression codecs for kafkajs. gzip is built into kafkajs; the others are
// registered here, all without native modules:
//   snappy  kafkajs-snappy (snappyjs, pure JS; raw snappy blocks, reads xerial framing too)
//   lz4     lz4js (pure JS) in the LZ4 frame format Kafka uses
//   zstd    node:zlib's built-in Zstandard (Node >= 22.15 / 23.8), on the libuv thread pool
// (kafkajs-lz4 and @kafkajs/zstd need native builds that fail on Node 24 here.)
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';

const require = createRequire(import.meta.url);

export const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** The kafkajs codec contract: compress gets kafkajs's Encoder (its .buffer is the payload). */
export interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

interface Lz4js {
  compress(src: Uint8Array, maxSize?: number): Uint8Array | number[];
  decompress(src: Uint8Array, maxSize?: number): Uint8Array | number[];
}

const toBuffer = (a: Uint8Array | number[]): Buffer =>
  a instanceof Uint8Array ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : Buffer.from(a);

/** LZ4 frame format (what Kafka's KafkaLZ4BlockOutputStream/InputStream speak) over lz4js. */
export function lz4Codec(): KafkajsCodec {
  const lz4 = require('lz4js') as Lz4js;
  return {
    async compress(encoder) { return toBuffer(lz4.compress(encoder.buffer)); },
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

let registered = false;
/** Registers snappy, lz4 and zstd with kafkajs (idempotent; producers and consumers both use them). */
export function registerCodecs(): void {
  if (registered) return;
  registered = true;
  const { CompressionCodecs, CompressionTypes } = kafkajs;
  const codecs = CompressionCodecs as unknown as Record<number, () => KafkajsCodec>;
  codecs[CompressionTypes.Snappy] = snappyCodec;
  codecs[CompressionTypes.LZ4] = lz4Codec;
  if (zstdAvailable()) codecs[CompressionTypes.ZSTD] = () => zstdCodec();
}

/** kafkajs compression type for a conntrail kafka.compression value. */
export function compressionType(c: Compression): number {
  const { CompressionTypes } = kafkajs;
  switch (c) {
    case 'none': return CompressionTypes.None;
    case 'gzip': return CompressionTypes.GZIP;
    case 'snappy': return CompressionTypes.Snappy;
    case 'lz4': return CompressionTypes.LZ4;
    case 'zstd': return CompressionTypes.ZSTD;
  }
}
