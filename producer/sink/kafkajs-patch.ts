// kafkajs 2.2.4 (the last release) groups a send's messages per partition with
// `[...current, message]` for every message: O(n^2) per partition, which at
// 10,000-record batches costs more than everything else in the pipeline. This
// module puts a linear version with the same contract in Node's require cache
// BEFORE kafkajs loads it. It must therefore be imported before 'kafkajs'
// anywhere in the process (producer/sink/kafka.ts and codecs.ts import it
// first). When kafkajs was loaded earlier, nothing is changed and
// kafkajsPatched() says false (correct, only slower).
import { createRequire } from 'node:module';
import path from 'node:path';

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

type CachedModule = { exports: unknown; loaded: boolean; filename: string; id: string; paths: string[]; children: unknown[] };

let patched = false;
function install(): void {
  const main = require.resolve('kafkajs');
  const file = path.join(path.dirname(main), 'src', 'producer', 'groupMessagesPerPartition.js');
  const cache = require.cache as Record<string, CachedModule | undefined>;
  const existing = cache[file];
  if (existing) {
    patched = existing.exports === groupMessagesPerPartition;
    return;
  }
  const NodeModule = require('node:module') as new (id: string) => CachedModule;
  const m = new NodeModule(file);
  m.filename = file;
  m.loaded = true;
  m.exports = groupMessagesPerPartition;
  cache[file] = m;
  patched = true;
}
install();

/** True when kafkajs uses the linear grouping (this module ran before kafkajs loaded). */
export function kafkajsPatched(): boolean {
  return patched;
}
