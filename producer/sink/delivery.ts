// Delivery of one batch: send it until Kafka acknowledges it, the transport's
// rules say it can never be sent, or the sink stops.
//
// A transient failure (connection refused, timeout, no leader...) sends the
// SAME batch again, forever, with backoff (initialRetryMs doubling up to
// maxRetryMs, +-20% jitter), while the sink's queue keeps absorbing new records.
// A permanent one (message too large, invalid record, authorization) drops the
// batch, counted as publish_failed; a too-large batch of several records is
// split in two and each half delivered first. What counts as which is the
// transport's knowledge (errors.ts for kafkajs), passed in as `classify`.
import { performance } from 'node:perf_hooks';
import type { LoggerLike } from '../log.ts';
import type { SinkTransport } from './kafka.ts';
import type { QueuedMessage } from './queue.ts';

/**
 * What a failed send means for its batch: send it again with backoff
 * (transient), again within REROUTE_RETRY_MAX_MS (reroute: the transport found
 * another way, e.g. a partition's new leader), drop it, or split it.
 */
export type SendErrorKind = 'transient' | 'reroute' | 'permanent' | 'too-large';

/** Longest backoff of a rerouted batch: after a leader moved it must not sleep maxRetryMs (Java's retry.backoff.max.ms). */
export const REROUTE_RETRY_MAX_MS = 1000;

/** A batch on its way to Kafka, as the hooks see it. */
export interface SinkBatch {
  /** Sequence number of the batch in this sink, from 1. */
  readonly id: number;
  readonly topic: string;
  /** kafkajs messages; onBatchSend may add headers (e.g. traceparent). */
  readonly messages: QueuedMessage[];
  /** Bytes of keys and values. */
  readonly bytes: number;
  /** Send attempts so far (kafkajs's own retries inside one attempt are not counted). */
  attempts: number;
}

export interface BatchAck {
  /** Epoch ms of the acknowledgement. */
  ackedAt: number;
  /** From the first send attempt to the acknowledgement, ms. */
  latencyMs: number;
  /** What the transport returned (kafkajs: RecordMetadata[] with partitions and base offsets). */
  result: unknown;
}

/** Hooks for tracing and tests (issue 6). Called synchronously; must not throw. */
export interface SinkHooks {
  /** Before the first send attempt of a batch. */
  onBatchSend?(batch: SinkBatch): void;
  /** After Kafka acknowledged the batch. */
  onBatchSent?(batch: SinkBatch, ack: BatchAck): void;
  /** When a batch is given up (publish_failed or shutdown_unflushed). */
  onBatchFailed?(batch: SinkBatch, error: unknown): void;
}

export interface DeliveryOptions {
  transport: Pick<SinkTransport, 'send'>;
  /** The transport's reading of a failed send. */
  classify(err: unknown): SendErrorKind;
  /** The failed send's message for logs and stats().lastError. */
  describe(err: unknown): string;
  hooks: SinkHooks;
  logger: LoggerLike;
  initialRetryMs: number;
  maxRetryMs: number;
  /** Ack latency samples kept (a ring). */
  latencySamples: number;
  /** Records waiting in the sink's queue (for the retry log line). */
  queued(): number;
}

export class Delivery {
  readonly published = { batches: 0, records: 0, bytes: 0 };
  /** Batches (and their records) sent again after a transient failure. */
  readonly resent = { batches: 0, records: 0 };
  /** Failed send attempts (each send that rejected, retried or not). */
  publishErrors = 0;
  /** Records of batches given up as permanent failures. */
  publishFailed = 0;
  lastPublishAt: number | null = null;
  lastError: string | null = null;
  /** Epoch ms of the first failed send since the last acknowledgement; null when the last send was acknowledged (or none failed). */
  failingSince: number | null = null;

  readonly #o: DeliveryOptions;
  readonly #backoffMax: number;
  readonly #latencies: Float64Array;
  #latencyCount = 0;
  #retrying = 0;
  #stopped = false;
  /** Batches being delivered, with the epoch ms their delivery started (in order: the first is the oldest). */
  readonly #inFlightSince = new Map<SinkBatch, number>();
  readonly #sleeps = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  constructor(options: DeliveryOptions) {
    this.#o = options;
    this.#backoffMax = Math.max(options.maxRetryMs, options.initialRetryMs);
    this.#latencies = new Float64Array(options.latencySamples);
  }

  /** True while a batch waits to be sent again after a failure. */
  get retrying(): boolean {
    return this.#retrying > 0;
  }

  /** Epoch ms the oldest batch still being delivered was first sent (null: none in flight). */
  get inFlightSince(): number | null {
    for (const at of this.#inFlightSince.values()) return at;
    return null;
  }

  /** Sends one batch until acknowledged, given up, or stop(). Never rejects. */
  async deliver(batch: SinkBatch): Promise<void> {
    try {
      this.#o.hooks.onBatchSend?.(batch);
    } catch (err) {
      this.#o.logger.warn({ err: (err as Error)?.message }, 'onBatchSend hook threw');
    }
    const t0 = performance.now();
    this.#inFlightSince.set(batch, Date.now());
    try {
      await this.#sendParts(batch, batch.messages, t0);
    } finally {
      this.#inFlightSince.delete(batch);
    }
  }

  /** No more attempts: a batch in flight or waiting to retry ends (its records are the sink's to count). */
  stop(): void {
    this.#stopped = true;
    for (const s of this.#sleeps) { clearTimeout(s.timer); s.resolve(); }
  }

  /** Over the last latencySamples acknowledged batches. */
  ackLatency(): { samples: number; p50: number; p99: number; max: number } {
    const n = Math.min(this.#latencyCount, this.#latencies.length);
    // a typed array sorts numerically in native code: an Array with a comparator was ~19% of an idle agent's JS time (the heartbeat reads the totals once a second while records come)
    const lat = this.#latencies.slice(0, n).sort();
    const pct = (p: number): number => (n === 0 ? 0 : lat[Math.min(n - 1, Math.floor(p * n))] as number);
    return { samples: n, p50: pct(0.5), p99: pct(0.99), max: n === 0 ? 0 : (lat[n - 1] as number) };
  }

  async #sendParts(batch: SinkBatch, messages: QueuedMessage[], t0: number): Promise<void> {
    const { transport, hooks, logger } = this.#o;
    let failures = 0;
    for (;;) {
      if (this.#stopped) return; // counted by the sink's stop() as shutdown_unflushed
      batch.attempts++;
      let result: unknown;
      try {
        result = await transport.send(messages);
      } catch (err) {
        if (this.#stopped) return;
        this.publishErrors++;
        failures++;
        this.lastError = this.#o.describe(err);
        this.failingSince ??= Date.now();
        const kind = this.#o.classify(err);
        if (kind === 'too-large' && messages.length > 1) {
          const half = messages.length >> 1;
          logger.warn({ records: messages.length, batch: batch.id }, 'Kafka refused the batch as too large: splitting it');
          await this.#sendParts(batch, messages.slice(0, half), t0);
          await this.#sendParts(batch, messages.slice(half), t0);
          return;
        }
        if (kind !== 'transient' && kind !== 'reroute') {
          this.publishFailed += messages.length;
          logger.error({ err: this.lastError, records: messages.length, batch: batch.id }, 'Kafka refused a batch: records dropped (publish_failed)');
          try { hooks.onBatchFailed?.(batch, err); } catch { /* hook errors are not ours */ }
          return;
        }
        const delay = kind === 'reroute' ? Math.min(this.#backoff(failures), REROUTE_RETRY_MAX_MS) : this.#backoff(failures);
        if (failures === 1 || failures % 10 === 0) {
          logger.warn({ err: this.lastError, records: messages.length, batch: batch.id, failures, retryInMs: delay, queued: this.#o.queued() },
            'Kafka send failed: retrying the batch while the queue holds new records');
        }
        this.#retrying++;
        try { await this.#sleep(delay); } finally { this.#retrying--; }
        this.resent.batches++;
        this.resent.records += messages.length;
        continue;
      }
      const ackedAt = Date.now();
      const latencyMs = performance.now() - t0;
      this.published.batches++;
      this.published.records += messages.length;
      this.published.bytes += messages === batch.messages ? batch.bytes : messages.reduce((s, m) => s + m.value.length + (m.key?.length ?? 0), 0);
      this.lastPublishAt = ackedAt;
      this.failingSince = null;
      this.#latencies[this.#latencyCount++ % this.#latencies.length] = latencyMs;
      if (failures > 0) logger.info({ batch: batch.id, failures }, 'Kafka send succeeded after retries');
      try {
        hooks.onBatchSent?.(batch, { ackedAt, latencyMs, result });
      } catch (err) {
        logger.warn({ err: (err as Error)?.message }, 'onBatchSent hook threw');
      }
      return;
    }
  }

  #backoff(failures: number): number {
    const base = Math.min(this.#backoffMax, this.#o.initialRetryMs * 2 ** Math.min(failures - 1, 30));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => { this.#sleeps.delete(entry); resolve(); }, ms),
        resolve,
      };
      this.#sleeps.add(entry);
    });
  }
}
