// The narrow, stage-agnostic interface between conntrail's pipeline and
// OpenTelemetry. Nothing here imports an OpenTelemetry package: with telemetry
// off, run.ts loads this file and noop.ts only.

/** Stages an event passes through after the kernel captured it. */
export type EventStage = 'enriched' | 'encoded' | 'queued';

/**
 * The trace of one sampled event: a span that starts at the kernel capture
 * time and ends when Kafka acknowledged the batch that carried the event.
 * Only sampled events get one; `PipelineTracer.sampleEvent` returns null
 * for all the others, without allocating anything.
 */
export interface EventTrace {
  /** Record when the event finished a stage (now, or at `timeMs`, epoch ms). */
  mark(stage: EventStage, timeMs?: number): void;
  /** Add attributes to the event span (e.g. server.address, process.pid). */
  setAttributes(attributes: Record<string, string | number | boolean | string[]>): void;
  /**
   * W3C trace context for this event's Kafka message: `{ traceparent }`
   * (and `tracestate` when there is one). Merge into the message headers.
   */
  headers(): Record<string, string>;
  /** The event span's W3C `traceparent` value. */
  readonly traceparent: string;
  /** The event span's context (for links); opaque to the pipeline. */
  readonly spanContext: unknown;
  /**
   * The event left the pipeline without reaching Kafka (queue full, shutdown
   * timeout...): ends its span with an error status and `error.type` = reason.
   */
  dropped(reason: string): void;
  /** True once the span is ended (acked, failed or dropped). */
  readonly ended: boolean;
}

/** The span of one Kafka send of one batch: `publish <topic>`. */
export interface BatchTrace {
  /**
   * The batch was acknowledged (no error) or failed for good (error: after
   * kafkajs's own retries). Ends the batch span and every sampled event span
   * it carried, with child spans for each stage. `timeMs`: ack time, epoch ms
   * (default now).
   */
  end(error?: unknown, timeMs?: number): void;
  /** Run `fn` with the batch span active (for instrumentation-kafkajs's per-message spans to nest under it). */
  with<T>(fn: () => T): T;
}

export interface PipelineTracer {
  /** True when this tracer records anything (false for the no-op one). */
  readonly enabled: boolean;
  /**
   * Per-event sampling decision, cheap enough for every event: a countdown
   * decremented per call. Not sampled: null, nothing allocated. Sampled: an
   * EventTrace whose span starts at the capture time: `captureTime` is wall
   * clock ns since the epoch as a bigint, or µs since the epoch as a number
   * (CaptureEvent.timestampUs, NetTCPConnect.timestamp; pass it as is, it
   * is converted only for sampled events). `receivedMs` (epoch ms,
   * default now): when conntrail read the event from the ring buffer, the
   * end of the `ringbuf` child span.
   */
  sampleEvent(captureTime: bigint | number, receivedMs?: number): EventTrace | null;
  /**
   * Start the span of one batch send, linked (at start, as the messaging
   * conventions require) to the sampled events it carries. Call right before
   * producer.send(); `sampled` may be empty.
   */
  startBatch(topic: string, messageCount: number, sampled: readonly EventTrace[], bytes?: number): BatchTrace;
}

/** Counters keyed by a label value (reason, probe...). Monotonic. */
export type CountsBy = Record<string, number>;

/**
 * What the pipeline's stages count, read once per metrics collection (a
 * Prometheus scrape or an OTLP export), never per event. Counters are
 * monotonic totals since start; the others are current values. Missing
 * optional parts are simply not reported.
 */
export interface PipelineStatsSnapshot {
  capture?: {
    /** Events read from the ring buffer, by kind ("connect", "dns") and then by probe (lsm, fentry, kprobe, cgroup, tracepoint, cgroup_skb). */
    events?: Record<string, CountsBy>;
    /** Records the kernel could not hand over, by reason (e.g. "connect_ring_full"). */
    kernelDrops?: CountsBy;
    /** Connects filtered out in the kernel by configuration, by reason ("self", "port", "cidr"). */
    excluded?: CountsBy;
    /** 1 when the DNS program is attached, 0 when DNS names are unavailable (connects are captured either way). */
    dnsAttached?: number;
  };
  decode?: {
    /** Records read but not turned into NetTCPConnect, by reason (e.g. "not_tcp", "short_record", "excluded"). */
    skipped?: CountsBy;
  };
  dns?: {
    /** DNS replies that could not be parsed, by reason (e.g. "truncated", "malformed"). */
    parseErrors?: CountsBy;
    cache?: {
      /** Names currently in the cache. */
      size: number;
      /** Addresses currently in the cache (optional). */
      addresses?: number;
      /** Lookups that found at least one name. */
      hits: number;
      /** Lookups that found none. */
      misses: number;
      /** Entries found expired (TTL passed) and dropped. */
      expired: number;
    };
  };
  /** The outcome join (absent: a snapshot without it). */
  outcome?: {
    /** Records joined to an outcome, by source ("state", "syscall"). */
    joined: CountsBy;
    /** Records published as in_progress, by reason ("timeout", "evicted", "shutdown"). */
    inProgress: CountsBy;
    /** Outcome events that matched no held record. */
    orphans: number;
    /** Records held without a socket cookie. */
    noCookie: number;
    /** Handshake ends of excluded connects, skipped in the kernel (absent: a snapshot without the kernel's counters). */
    excluded?: number;
    /** Records held now. */
    pending: number;
  };
  queue?: {
    /** Records waiting between enrichment and Kafka now. */
    depth: number;
    /** Encoded bytes waiting now (optional). */
    bytes?: number;
    /** Records dropped by the queue, by reason ("full", "shutdown"...). */
    drops?: CountsBy;
  };
  /** The disk spool (absent: no spool). */
  spool?: {
    /** Records not yet acknowledged, on disk. */
    records: number;
    /** Of those, only on disk (not in the memory queue). */
    diskOnly: number;
    bytes: number;
    segments: number;
    /** Records found unacknowledged at start and sent again. */
    replayed: number;
  };
  publish?: {
    /** Batches acknowledged by Kafka. */
    batches: number;
    /** Records acknowledged by Kafka. */
    records: number;
    /** Encoded bytes acknowledged (optional). */
    bytes?: number;
    /** Failed batch send attempts (each producer.send() that rejected, whether retried or not), optionally by error type. */
    errors: number | CountsBy;
  };
}

/** Handle on the pipeline metrics, returned by registerPipelineMetrics. */
export interface PipelineMetrics {
  /**
   * One capture -> Kafka-ack latency, in seconds. PipelineTelemetry calls it
   * once per acknowledged batch (its oldest record): a call costs about 60 ns
   * and allocates, too much to make per record at 80k records/s.
   */
  recordLatency(seconds: number): void;
  /** Stop reporting the snapshot (the meter provider keeps running). */
  unregister(): void;
}

/** Host facts for the resource attributes, from run.ts (config host.name, /etc/machine-id, boot id). */
export interface TelemetryResourceInfo {
  hostName: string;
  machineId?: string;
  bootId?: string;
  serviceVersion?: string;
  /** Extra resource attributes (OTEL_RESOURCE_ATTRIBUTES is read too). */
  attributes?: Record<string, string>;
}

/** What startTelemetry hands back when telemetry is on. */
export interface Telemetry {
  /** Event/batch tracing; the no-op tracer when no trace exporter is configured. */
  readonly tracer: PipelineTracer;
  /**
   * Register the pipeline's observable metrics and the latency histogram.
   * Call once, when the stages' counters exist.
   */
  registerMetrics(snapshot: () => PipelineStatsSnapshot): PipelineMetrics;
  /** Where traces go: "otlp <url>", "env" (OTEL_* variables) or "none". */
  readonly traces: string;
  /** Prometheus scrape URL, or null when the endpoint is off. */
  readonly prometheusUrl: string | null;
  /** Whether @opentelemetry/instrumentation-kafkajs was loaded. */
  readonly kafkajsInstrumented: boolean;
  /** Flush spans and metrics, stop the Prometheus server. Safe to call twice. */
  shutdown(): Promise<void>;
}
