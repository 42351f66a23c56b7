// A what-if, not the shipped code: a Kafka transport that sends nothing and
// "acknowledges" each batch on the next turn of the event loop. With it the
// pipeline's figures are those of conntrail's own stages (decode, enrich,
// encode, queue, batching, hooks) with a Kafka client that cost nothing: the
// bound on what a faster client could buy.
import type { SinkTransport } from '../../producer/sink/kafka.ts';
import type { QueuedMessage } from '../../producer/sink/queue.ts';

export class NullTransport implements SinkTransport {
  sent = 0;
  async connect(): Promise<void> {}
  async ensureTopic(): Promise<void> {}
  send(messages: QueuedMessage[]): Promise<unknown> {
    this.sent += messages.length;
    return new Promise((resolve) => setImmediate(() => resolve([])));
  }
  async disconnect(): Promise<void> {}
}
