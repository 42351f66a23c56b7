// conntrail's pipeline metrics as OpenTelemetry instruments.
//
// The stages keep plain numeric counters (an increment per event costs next
// to nothing); these instruments are asynchronous (observable) and read one
// snapshot of those counters per collection (a Prometheus scrape or an OTLP
// export), never per event. The one synchronous instrument is the capture ->
// Kafka-ack latency histogram, recorded once per acknowledged batch (the
// oldest record's latency, see pipeline.ts): a histogram.record() costs about
// 60 ns plus the garbage the SDK allocates for it, which at 80k records/s
// would cost about 6% of the pipeline's CPU if done per record (measured).
//
// Loaded only when telemetry is on (sdk.ts imports it dynamically).
import type { Attributes, Histogram, Meter, ObservableResult, BatchObservableResult, Observable } from '@opentelemetry/api';
import type { CountsBy, PipelineMetrics, PipelineStatsSnapshot } from './types.ts';

/** Bucket boundaries of conntrail.pipeline.latency, in seconds: 1 ms .. 60 s. */
export const LATENCY_BUCKETS_S = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** Every instrument: name, kind, unit, description. The README's table is made from this list. */
export const METRIC_DEFINITIONS = [
  ['conntrail.capture.events', 'counter', '{event}', 'Events read from the kernel ring buffer, by kind (connect, dns) and probe.'],
  ['conntrail.capture.kernel_drops', 'counter', '{event}', 'Events the kernel could not hand over (ring buffer full...), by reason.'],
  ['conntrail.capture.excluded', 'counter', '{event}', 'Connects filtered out in the kernel by configuration (self, port, cidr), by reason.'],
  ['conntrail.capture.dns_attached', 'gauge', '1', '1 when DNS replies are captured, 0 when the DNS program is not attached (connects are captured without names).'],
  ['conntrail.decode.skipped', 'counter', '{record}', 'Records read but not published as NetTCPConnect, by reason.'],
  ['conntrail.dns.parse_errors', 'counter', '{reply}', 'Captured DNS replies that could not be parsed, by reason.'],
  ['conntrail.dns.cache.size', 'gauge', '{name}', 'DNS names held in the cache now.'],
  ['conntrail.dns.cache.addresses', 'gauge', '{address}', 'Addresses held in the DNS cache now.'],
  ['conntrail.dns.cache.hits', 'counter', '{lookup}', 'Connect lookups that found at least one name.'],
  ['conntrail.dns.cache.misses', 'counter', '{lookup}', 'Connect lookups that found no name.'],
  ['conntrail.dns.cache.expired', 'counter', '{entry}', 'Cache entries dropped because their TTL had passed.'],
  ['conntrail.outcome.joined', 'counter', '{record}', 'Records joined to their connect\'s outcome, by source (state: the socket left SYN_SENT; syscall: connect() failed).'],
  ['conntrail.outcome.in_progress', 'counter', '{record}', 'Records published with outcome in_progress (no outcome known), by reason (timeout: none within enrich.outcomeWaitMs; evicted: enrich.outcomeMaxPending reached; shutdown).'],
  ['conntrail.outcome.orphans', 'counter', '{event}', 'Outcome events that matched no held record (its record was already published, or a connect conntrail does not publish).'],
  ['conntrail.outcome.excluded', 'counter', '{event}', 'Handshake ends of connects a port or CIDR exclude filtered out, skipped in the kernel (no record, no orphan).'],
  ['conntrail.outcome.no_cookie', 'counter', '{record}', 'Records held without a socket cookie: only a failed connect() can give them an outcome.'],
  ['conntrail.outcome.pending', 'gauge', '{record}', 'Records waiting for their outcome now.'],
  ['conntrail.queue.depth', 'gauge', '{record}', 'Records waiting between enrichment and Kafka now.'],
  ['conntrail.queue.bytes', 'gauge', 'By', 'Encoded bytes waiting between enrichment and Kafka now.'],
  ['conntrail.queue.drops', 'counter', '{record}', 'Records the queue dropped, by reason.'],
  ['conntrail.spool.records', 'gauge', '{record}', 'Records in the disk spool not yet acknowledged by Kafka now.'],
  ['conntrail.spool.disk_only', 'gauge', '{record}', 'Of those, records only on disk, waiting for room in the memory queue.'],
  ['conntrail.spool.bytes', 'gauge', 'By', 'Bytes of spool segment files now.'],
  ['conntrail.spool.segments', 'gauge', '{segment}', 'Spool segment files now.'],
  ['conntrail.spool.replayed', 'counter', '{record}', 'Records found unacknowledged in the spool at start and sent again (those a crash cut off after Kafka took them are duplicates).'],
  ['conntrail.publish.batches', 'counter', '{batch}', 'Batches acknowledged by Kafka.'],
  ['conntrail.publish.records', 'counter', '{record}', 'Records acknowledged by Kafka.'],
  ['conntrail.publish.bytes', 'counter', 'By', 'Encoded bytes acknowledged by Kafka.'],
  ['conntrail.publish.errors', 'counter', '{batch}', 'Failed batch send attempts (each producer.send() that rejected, retried or not), optionally by error.type.'],
  ['conntrail.pipeline.latency', 'histogram', 's', 'Time from the kernel capture of a connect to the Kafka acknowledgement of its record, one value per acknowledged batch: its oldest record (an upper bound for the batch).'],
] as const;

type Def = (typeof METRIC_DEFINITIONS)[number];
type ObservableName = Exclude<Def[0], 'conntrail.pipeline.latency'>;

function observeCounts(result: BatchObservableResult, obs: Observable, counts: CountsBy | undefined, key: string): void {
  if (!counts) return;
  for (const k in counts) {
    const v = counts[k];
    if (typeof v === 'number') result.observe(obs, v, { [key]: k });
  }
}

/**
 * Register the observable instruments over `snapshot` and the latency
 * histogram on `meter`. `snapshot` is called once per collection.
 */
export function registerPipelineMetrics(meter: Meter, snapshot: () => PipelineStatsSnapshot): PipelineMetrics {
  const obs = {} as Record<ObservableName, Observable>;
  for (const [name, kind, unit, description] of METRIC_DEFINITIONS) {
    if (kind === 'counter') obs[name] = meter.createObservableCounter(name, { unit, description });
    else if (kind === 'gauge') obs[name] = meter.createObservableGauge(name, { unit, description });
  }
  const latency: Histogram = meter.createHistogram('conntrail.pipeline.latency', {
    unit: 's',
    description: METRIC_DEFINITIONS[METRIC_DEFINITIONS.length - 1]![3],
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_S },
  });

  const callback = (r: BatchObservableResult): void => {
    const s = snapshot();
    const events = s.capture?.events;
    if (events) {
      for (const kind in events) {
        const byProbe = events[kind];
        if (!byProbe) continue;
        for (const probe in byProbe) {
          const v = byProbe[probe];
          if (typeof v === 'number') r.observe(obs['conntrail.capture.events'], v, { kind, probe });
        }
      }
    }
    observeCounts(r, obs['conntrail.capture.kernel_drops'], s.capture?.kernelDrops, 'reason');
    observeCounts(r, obs['conntrail.capture.excluded'], s.capture?.excluded, 'reason');
    if (s.capture?.dnsAttached !== undefined) r.observe(obs['conntrail.capture.dns_attached'], s.capture.dnsAttached);
    observeCounts(r, obs['conntrail.decode.skipped'], s.decode?.skipped, 'reason');
    observeCounts(r, obs['conntrail.dns.parse_errors'], s.dns?.parseErrors, 'reason');
    const cache = s.dns?.cache;
    if (cache) {
      r.observe(obs['conntrail.dns.cache.size'], cache.size);
      if (cache.addresses !== undefined) r.observe(obs['conntrail.dns.cache.addresses'], cache.addresses);
      r.observe(obs['conntrail.dns.cache.hits'], cache.hits);
      r.observe(obs['conntrail.dns.cache.misses'], cache.misses);
      r.observe(obs['conntrail.dns.cache.expired'], cache.expired);
    }
    const o = s.outcome;
    if (o) {
      observeCounts(r, obs['conntrail.outcome.joined'], o.joined, 'source');
      observeCounts(r, obs['conntrail.outcome.in_progress'], o.inProgress, 'reason');
      r.observe(obs['conntrail.outcome.orphans'], o.orphans);
      r.observe(obs['conntrail.outcome.no_cookie'], o.noCookie);
      if (o.excluded !== undefined) r.observe(obs['conntrail.outcome.excluded'], o.excluded);
      r.observe(obs['conntrail.outcome.pending'], o.pending);
    }
    const q = s.queue;
    if (q) {
      r.observe(obs['conntrail.queue.depth'], q.depth);
      if (q.bytes !== undefined) r.observe(obs['conntrail.queue.bytes'], q.bytes);
      observeCounts(r, obs['conntrail.queue.drops'], q.drops, 'reason');
    }
    const sp = s.spool;
    if (sp) {
      r.observe(obs['conntrail.spool.records'], sp.records);
      r.observe(obs['conntrail.spool.disk_only'], sp.diskOnly);
      r.observe(obs['conntrail.spool.bytes'], sp.bytes);
      r.observe(obs['conntrail.spool.segments'], sp.segments);
      r.observe(obs['conntrail.spool.replayed'], sp.replayed);
    }
    const p = s.publish;
    if (p) {
      r.observe(obs['conntrail.publish.batches'], p.batches);
      r.observe(obs['conntrail.publish.records'], p.records);
      if (p.bytes !== undefined) r.observe(obs['conntrail.publish.bytes'], p.bytes);
      if (typeof p.errors === 'number') r.observe(obs['conntrail.publish.errors'], p.errors);
      else observeCounts(r, obs['conntrail.publish.errors'], p.errors, 'error.type');
    }
  };
  const observables = Object.values(obs);
  meter.addBatchObservableCallback(callback, observables);

  const noAttributes: Attributes = {};
  return {
    recordLatency(seconds: number): void {
      latency.record(seconds, noAttributes);
    },
    unregister(): void {
      meter.removeBatchObservableCallback(callback, observables);
    },
  };
}

export type { ObservableResult };
