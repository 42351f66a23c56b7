// What-if for the ceiling's "tuned" variant (see tuned-transport.ts): kafkajs's
// groupMessagesPerPartition copies the partition's array for every message
// ([...current, message]), O(n^2) per send. This swaps in an O(n) push through
// the require cache; it must run before anything imports kafkajs (this file
// does not), since sendMessages.js captures the function when it loads.
import { createRequire } from 'node:module';
import type { Message } from 'kafkajs';

let patched = false;

/** Installs the O(n) grouping; must run before kafkajs's producer module is first required. */
export function patchGroupMessagesPerPartition(): boolean {
  if (patched) return true;
  const require = createRequire(import.meta.url);
  const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
  const sendPath = require.resolve('kafkajs/src/producer/sendMessages.js');
  if (require.cache[sendPath]) return false; // too late: sendMessages captured the original
  require(path);
  const mod = require.cache[path];
  if (!mod) return false;
  mod.exports = ({ topic, partitionMetadata, messages, partitioner }: {
    topic: string; partitionMetadata: unknown[]; messages: Message[];
    partitioner: (a: { topic: string; partitionMetadata: unknown[]; message: Message }) => number;
  }): Record<number, Message[]> => {
    const out: Record<number, Message[]> = {};
    if (partitionMetadata.length === 0) return out;
    for (const message of messages) {
      const p = partitioner({ topic, partitionMetadata, message });
      (out[p] ??= []).push(message);
    }
    return out;
  };
  patched = true;
  return true;
}
