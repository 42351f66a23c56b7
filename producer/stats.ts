// The periodic stats line: one pino JSON line every log.statsIntervalSec with
// rates since the last line and every drop counter a user should see.
import type { Logger } from './log.ts';
import type { CaptureCounters } from './source/capture.ts';
import type { SinkStats } from './sink/sink.ts';
import type { EnrichStats } from './transform/enrich.ts';

export interface PipelineStats {
  capture: CaptureCounters;
  enrich: EnrichStats;
  sink: SinkStats;
}

/** Only the non-zero entries: a drops object a human can read at a glance. */
function nonZero(counts: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(counts)) if (v !== 0) out[k] = v;
  return out;
}

export class StatsReporter {
  readonly #log: Logger;
  readonly #read: () => PipelineStats;
  #timer: NodeJS.Timeout | undefined;
  #last = { at: Date.now(), connects: 0, dns: 0, published: 0 };

  constructor(log: Logger, read: () => PipelineStats) {
    this.#log = log;
    this.#read = read;
  }

  start(intervalMs: number): void {
    this.#last.at = Date.now();
    this.#timer = setInterval(() => this.logOnce(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Builds the stats line (also used by tests). */
  line(): Record<string, unknown> {
    const s = this.#read();
    const now = Date.now();
    const secs = Math.max(0.001, (now - this.#last.at) / 1000);
    const connects = s.capture.received.connect;
    const dns = s.capture.received.dns;
    const published = s.sink.published.records;
    const o = s.enrich.outcome;
    const rate = (n: number, prev: number): number => Math.round((n - prev) / secs);
    const line = {
      connectsPerSec: rate(connects, this.#last.connects),
      dnsRepliesPerSec: rate(dns, this.#last.dns),
      publishedPerSec: rate(published, this.#last.published),
      // dnsNoData: replies with no address for the asked type (NODATA), normal, not a drop
      totals: { connects, dnsReplies: dns, dnsNoData: s.enrich.dnsRepliesNoData, published, byProbe: nonZero(s.capture.received.byProbe) },
      drops: {
        kernel: nonZero({ ...s.capture.drops }),
        decoder: nonZero(s.capture.malformed),
        queue: nonZero(s.sink.drops),
        dns: nonZero(s.enrich.dnsErrors),
        notPublished: nonZero({ notTcp: s.enrich.connectsNotTcp, notInet: s.enrich.connectsNotInet }),
      },
      // records published with a field null because it was not known (e.g. the process exited before /proc was read)
      unknownFields: nonZero(s.enrich.unknown),
      // the outcome join (enrich.outcomeWaitMs): records held now, joined by source, published as in_progress by reason
      outcome: {
        pending: o.pending,
        joined: nonZero({ state: o.joinedState, syscall: o.joinedSyscall }),
        inProgress: nonZero(o.inProgress),
        ...nonZero({ noCookie: o.noCookie, orphans: o.orphans, excluded: s.capture.kernel.outcomeExcluded }),
      },
      queue: { records: s.sink.queue.records, bytes: s.sink.queue.bytes },
      // the disk spool: unacknowledged records on disk, of which diskOnly wait for room in the queue
      ...(s.sink.spool ? { spool: { records: s.sink.spool.records, diskOnly: s.sink.spool.diskOnly, bytes: s.sink.spool.bytes, segments: s.sink.spool.segments, replayed: s.sink.spool.replayed } } : {}),
      lastPublishAt: s.sink.lastPublishAt === null ? null : new Date(s.sink.lastPublishAt).toISOString(),
      lastError: s.sink.lastError,
      ackLatencyMs: s.sink.ackLatencyMs,
      dnsCache: { names: s.enrich.cache.names, addresses: s.enrich.cache.addresses },
      ...(s.capture.dnsCapture ? { dnsCapture: dnsCaptureText(s.capture.dnsCapture) } : {}),
    };
    this.#last = { at: now, connects, dns, published };
    return line;
  }

  logOnce(): void {
    this.#log.info({ stats: this.line() }, 'stats');
  }
}

/** "per netns", "host-wide", or "unavailable: <why>" (connects are captured either way). */
export function dnsCaptureText(d: NonNullable<CaptureCounters['dnsCapture']>): string {
  if (!d.attached) return `unavailable: ${d.reason ?? '?'}`;
  return d.netnsScoped ? 'per netns' : 'host-wide';
}
