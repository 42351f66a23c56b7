// kafkajs is pinned to 2.2.4 (its last release; package.json) and runs with
// conntrail's changes to eight of its files, applied at install by patch-package
// from patches/kafkajs+2.2.4.patch (npm's postinstall). The patch is the one
// reviewable diff; nothing is replaced at run time, so kafkajs loads its own
// (patched) files whatever imports it first.
//
// 1. producer/groupMessagesPerPartition.js: linear (kafkajs copied the
//    partition's array for every message, O(n^2), which at 10,000-record
//    batches cost more than everything else in the pipeline).
// 2. protocol/recordBatch/crc32C/index.js: CRC32C from @node-rs/crc32 (SIMD,
//    prebuilt binaries), kafkajs's JavaScript one where that does not load.
// 3. protocol/recordBatch/v0/index.js and recordBatch/record/v0/index.js: a
//    batch encoded in one pass into one buffer, byte for byte what kafkajs
//    writes.
// 4. protocol/requests/produce/v3/request.js (v4-v7 reuse it) and
//    protocol/request.js: the Produce request assembled from its partitions'
//    batches, not copied (into a zero-filled, doubling buffer) at each level.
// 5. network/requestQueue/index.js: no timer while no request is pending
//    (kafkajs re-armed a 1 ms timer forever on every idle connection: ~900
//    wake-ups/s of an idle conntrail; test/publish/kafkajs-idle.test.ts).
// 6. producer/sendMessages.js: a send's acknowledgements kept per partition.
//    kafkajs kept them per broker and retried only the brokers without one, so
//    a partition whose leader moved to a broker that had answered for its own
//    partitions was never resent and send() resolved: records lost when a
//    leader stopped or died (tulios/kafkajs#1303; test/publish/failover.test.ts
//    lost 26-34 of ~20,000). A retry also waits for the attempt's other
//    requests to settle, and refreshes metadata when a partition has no leader.
// test/unit/record-batch.test.ts compares the patched modules with kafkajs's
// own (the patch reversed) byte for byte; test/publish/kafkajs-patch.test.ts
// sends through a real broker, which checks every batch's CRC and framing.
//
// This module says whether the installed kafkajs carries the patch: each
// patched file names it in its first line. Without it kafkajs is correct, only
// slower (KafkaTransport warns).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** The kafkajs version the patch was written against (its internals are not an API). */
export const KAFKAJS_VERSION = '2.2.4';
export const PATCH_FILE = `patches/kafkajs+${KAFKAJS_VERSION}.patch`;

/** The files of kafkajs (under its src/) that the patch changes. */
export const PATCHED_FILES = [
  'producer/groupMessagesPerPartition.js',
  'protocol/recordBatch/crc32C/index.js',
  'protocol/recordBatch/record/v0/index.js',
  'protocol/recordBatch/v0/index.js',
  'protocol/requests/produce/v3/request.js',
  'protocol/request.js',
  'network/requestQueue/index.js',
  'producer/sendMessages.js',
] as const;

const MARKER = `// conntrail patch (${PATCH_FILE})`;

/** Whether the kafkajs whose main file is `kafkajsMain` carries the patch, and why not. */
export function kafkajsPatchStatus(kafkajsMain: string = require.resolve('kafkajs')): { patched: boolean; why: string } {
  const root = path.dirname(kafkajsMain);
  let version: unknown;
  try {
    version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: unknown }).version;
  } catch {
    version = undefined;
  }
  if (version !== KAFKAJS_VERSION) {
    return { patched: false, why: `kafkajs ${String(version)} is not ${KAFKAJS_VERSION}, the version ${PATCH_FILE} was written for` };
  }
  for (const rel of PATCHED_FILES) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(root, 'src', rel), 'utf8');
    } catch {
      return { patched: false, why: `kafkajs has no src/${rel}` };
    }
    if (!text.startsWith(MARKER)) {
      return { patched: false, why: `kafkajs's src/${rel} is not patched (npm install applies ${PATCH_FILE}: its postinstall runs patch-package)` };
    }
  }
  return { patched: true, why: '' };
}

let status: { patched: boolean; why: string } | undefined;

/** True when the installed kafkajs is 2.2.4 with every file of the patch applied. */
export function kafkajsPatched(): boolean {
  status ??= kafkajsPatchStatus();
  return status.patched;
}

/** Why kafkajs is not patched ('' when it is). */
export function kafkajsNotPatchedReason(): string {
  status ??= kafkajsPatchStatus();
  return status.why;
}
