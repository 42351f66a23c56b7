// The heartbeat: every agent.heartbeatSec one AgentStatus record (status.ts)
// on agent.statusTopic, keyed by host name. It goes to Kafka beside the record
// queue, not through it: it is neither counted nor dropped as a record, and
// while Kafka is down the next one simply covers a longer interval. The one
// timer is the interval itself (a wake-up every 30 s by default).
import { randomUUID } from 'node:crypto';
import type { LoggerLike } from '../log.ts';
import type { AgentStatus } from '../model/agent-status.ts';
import { StatusInterval } from './status.ts';
import type { StatusIdentity, StatusTotals } from './status.ts';

export interface HeartbeatOptions {
  /** Between two records, ms (agent.heartbeatSec x 1000). */
  intervalMs: number;
  identity: StatusIdentity;
  /** The pipeline's totals now. */
  totals(): StatusTotals;
  /** All drops so far, any stage: the sum of totals().drops, made without the totals (read about once a second). */
  dropTotal(): number;
  /**
   * Encodes and sends one record to the status topic; resolves when Kafka
   * acknowledged it. Made lazily: for Avro it resolves the status subject's
   * schema at the first record, and again after it failed.
   */
  send(status: AgentStatus): Promise<void>;
  logger: LoggerLike;
  /** Epoch ms clock (tests). */
  now?: () => number;
}

export class Heartbeat {
  readonly #o: HeartbeatOptions;
  readonly #interval: StatusInterval;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> | null = null;
  #failures = 0;
  /** Records Kafka acknowledged, and records that could not be sent. */
  readonly counts = { sent: 0, failed: 0 };

  constructor(options: HeartbeatOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#interval = new StatusInterval(options.identity.startedAt);
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => { void this.beat(); }, this.#o.intervalMs);
    this.#timer.unref();
  }

  /** Notes drops seen now (the loss range's resolution is how often this runs). */
  observe(): void {
    this.#interval.observe(this.#o.dropTotal(), this.#now());
  }

  /** Makes and sends one record now; never rejects. Skipped while the previous one is on its way. */
  beat(): Promise<void> {
    this.#sending ??= this.#beat().finally(() => { this.#sending = null; });
    return this.#sending;
  }

  /** Stops the timer; with `last`, sends a final record first (shutdown), waiting at most `timeoutMs`. */
  async stop(last = false, timeoutMs = 2000): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#sending) await this.#sending;
    if (!last) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.beat(), new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
    clearTimeout(timer);
  }

  async #beat(): Promise<void> {
    const totals = this.#o.totals();
    const status = this.#interval.record(this.#o.identity, totals, this.#now(), randomUUID());
    try {
      await this.#o.send(status);
    } catch (err) {
      this.counts.failed++;
      this.#failures++;
      if (this.#failures === 1 || this.#failures % 10 === 0) {
        this.#o.logger.warn({ err: (err as Error)?.message ?? String(err), failures: this.#failures, sequence: status.agent.sequence },
          'status record not sent: the next one covers its interval');
      }
      return;
    }
    this.counts.sent++;
    if (this.#failures > 0) this.#o.logger.info({ failures: this.#failures }, 'status records sent again');
    this.#failures = 0;
    this.#interval.acknowledged(status, totals);
  }
}
