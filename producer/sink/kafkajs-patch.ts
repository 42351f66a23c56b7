// Patches to kafkajs 2.2.4 (the last release), put in Node's require cache
// BEFORE kafkajs loads the modules they replace. This module must therefore be
// imported before 'kafkajs' anywhere in the process (producer/sink/kafka.ts and
// codecs.ts import it first). When kafkajs was loaded earlier, or is not the
// version these patches were written against, nothing is changed and
// kafkajsPatched() says false (correct, only slower).
//
// 1. groupMessagesPerPartition: kafkajs groups a send's messages per partition
//    with `[...current, message]` for every message: O(n^2) per partition,
//    which at 10,000-record batches costs more than everything else in the
//    pipeline. Replaced by a linear version with the same contract.
// 2. protocol/recordBatch/crc32C: CRC32C byte by byte in JS, replaced by
//    @node-rs/crc32 (SIMD, prebuilt binaries); kafkajs's own is kept when that
//    package does not load on this platform.
// 3. protocol/recordBatch/v0 and recordBatch/record/v0: a batch encoded in one
//    pass into one buffer, byte for byte what kafkajs writes (record-batch.ts).
// 4. protocol/requests/produce/v3/request.js (v4-v7 reuse it) and
//    protocol/request.js: the Produce request assembled from its partitions'
//    batches with one copy, and framed with one more, instead of a copy (and a
//    zero-filled, doubling buffer) at each level; same bytes (record-batch.ts).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { loadInternals, produceRequestV3Module, recordV0, recordBatchModule, requestModule } from './record-batch.ts';

const require = createRequire(import.meta.url);

interface GroupArgs {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: (args: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;
}

/** Same result as kafkajs's groupMessagesPerPartition (partition -> messages, in order), in O(n). */
export function groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner }: GroupArgs): Record<number, unknown[]> {
  const result: Record<number, unknown[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
}

export type CachedModule = { exports: unknown; loaded: boolean; filename: string; id: string; paths: string[]; children: unknown[] };

/** The kafkajs version the patches were written against (its internals are not an API). */
export const KAFKAJS_VERSION = '2.2.4';

/** @node-rs/crc32's crc32c, or undefined when its native binding does not load here. */
export function nativeCrc32c(): ((buf: Buffer) => number) | undefined {
  try {
    const { crc32c } = require('@node-rs/crc32') as { crc32c: (input: Uint8Array, initial?: number) => number };
    // CRC32C of 32 zero bytes (RFC 3720, B.4): the binding loaded and computes the right polynomial
    if (crc32c(Buffer.alloc(32)) !== 0x8a9136aa) return undefined;
    return (buf: Buffer) => crc32c(buf);
  } catch {
    return undefined;
  }
}

/**
 * Puts the patched modules into `cache` (Node's require cache) for the kafkajs
 * whose main file is `kafkajsMain`, all of them or none: none when that kafkajs
 * is not 2.2.4, lacks one of the files, or already has one of them loaded.
 */
export function installPatches(kafkajsMain: string, cache: Record<string, CachedModule | undefined>): { patched: boolean; why: string } {
  const root = path.dirname(kafkajsMain);
  const src = path.join(root, 'src');
  let version: unknown;
  try {
    version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: unknown }).version;
  } catch {
    version = undefined;
  }
  if (version !== KAFKAJS_VERSION) {
    return { patched: false, why: `kafkajs ${String(version)} is not ${KAFKAJS_VERSION}, the version producer/sink/kafkajs-patch.ts was written for` };
  }
  const files = {
    group: path.join(src, 'producer', 'groupMessagesPerPartition.js'),
    crc: path.join(src, 'protocol', 'recordBatch', 'crc32C', 'index.js'),
    record: path.join(src, 'protocol', 'recordBatch', 'record', 'v0', 'index.js'),
    batch: path.join(src, 'protocol', 'recordBatch', 'v0', 'index.js'),
    produce: path.join(src, 'protocol', 'requests', 'produce', 'v3', 'request.js'),
    request: path.join(src, 'protocol', 'request.js'),
  };
  for (const file of Object.values(files)) {
    if (!fs.existsSync(file)) return { patched: false, why: `kafkajs has no ${path.relative(root, file)}` };
    if (cache[file]) return { patched: false, why: 'kafkajs was loaded before producer/sink/kafkajs-patch.ts' };
  }
  const modules = new Map<string, unknown>();
  try {
    const crc = nativeCrc32c();
    if (crc) modules.set(files.crc, crc);
    const crc32C = crc ?? (require(files.crc) as (buf: Buffer) => number);
    const internals = loadInternals(src, crc32C);
    const batch = recordBatchModule(internals);
    modules.set(files.group, groupMessagesPerPartition);
    modules.set(files.record, recordV0);
    modules.set(files.batch, { RecordBatch: batch.RecordBatch, MAGIC_BYTE: batch.MAGIC_BYTE });
    modules.set(files.produce, produceRequestV3Module(internals, batch.encodeBatch));
    modules.set(files.request, requestModule(internals));
  } catch (err) {
    return { patched: false, why: `kafkajs's internals are not as expected: ${(err as Error).message}` };
  }
  const NodeModule = require('node:module') as new (id: string) => CachedModule;
  for (const [file, exports] of modules) {
    const m = new NodeModule(file);
    m.filename = file;
    m.loaded = true;
    m.exports = exports;
    cache[file] = m;
  }
  return { patched: true, why: '' };
}

const { patched, why } = installPatches(require.resolve('kafkajs'), require.cache as Record<string, CachedModule | undefined>);

/** True when kafkajs runs with these patches (this module ran before kafkajs loaded, and kafkajs is 2.2.4). */
export function kafkajsPatched(): boolean {
  return patched;
}

/** Why kafkajs is not patched ('' when it is). */
export function kafkajsNotPatchedReason(): string {
  return why;
}
