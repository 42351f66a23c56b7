// `conntrail run`: capture -> enrich -> encode -> queue/batch -> Kafka.
//
//   CaptureSource (producer/source)   ring-buffer batches -> CaptureEvent[]
//   Enricher      (producer/transform) CaptureEvent[]      -> NetTCPConnect[] (DNS names, process context;
//                                      OutcomeJoin holds each record until its connect's outcome)
//   KafkaSink     (producer/sink)      NetTCPConnect[]     -> encoded, queued, batched, sent with kafkajs
//
// Everything on the hot path is synchronous and batch-at-a-time: one call per
// kernel batch, no promise per event. Kafka I/O happens in the sink's own loop.
//
// startPipeline() is the one assembly of the stages: `conntrail run` calls it
// with no options; the benchmarks (bench/lib/pipeline.ts) pass sink hooks, a
// tap on the events and records, a transport (what-ifs) or a source of
// synthetic ring-buffer batches instead of the kernel capture.
import { performance } from 'node:perf_hooks';
import type { ConntrailConfig } from './config/load.ts';
import { resolveEndpoints } from './local-stack.ts';
import { createLogger, type Logger } from './log.ts';
import { DEFAULT_PIN_PATH, EXEC_MAX_ARGS, releaseFreedMemory } from 'bpf-native-loader';
import { leaveRoot } from './privileges.ts';
import type { NetTCPConnect } from './model/net-tcp-connect.ts';
import type { CaptureSource, CaptureSourceOptions } from './source/capture.ts';
import type { CaptureEvent } from './source/types.ts';
import type { SinkTransport } from './sink/kafka.ts';
import type { KafkaSink, SinkHooks } from './sink/sink.ts';
import { Accounts } from './transform/accounts.ts';
import { Enricher } from './transform/enrich.ts';
import { OutcomeJoin } from './transform/outcome.ts';
import { readHostIdentity } from './transform/host-identity.ts';
import { dnsCaptureText, StatsReporter, type PipelineStats } from './stats.ts';
import { Heartbeat } from './heartbeat/heartbeat.ts';
import { statusTotals } from './heartbeat/totals.ts';
import { conntrailVersion } from './version.ts';
import { Health, kafkaCheck, notReady, ok, queueCheck } from './health.ts';
import { startEndpoint } from './telemetry/http.ts';
import { startTelemetry } from './telemetry/sdk.ts';
import { PipelineTelemetry, snapshotOf } from './telemetry/pipeline.ts';
import { Spool } from './sink/spool/spool.ts';
import type { PipelineTracer } from './telemetry/types.ts';

/** What the pipeline needs of its source: CaptureSource, or a stand-in (openSource). */
export type PipelineSource = Pick<CaptureSource, 'probe' | 'report' | 'counters' | 'dropTotal' | 'stop'> &
  { readonly dns?: CaptureSource['dns']; readonly outcome?: CaptureSource['outcome']; pause?(): void; resume?(): void };

/** For the benchmarks; `conntrail run` passes none. */
export interface PipelineOptions<S extends PipelineSource = CaptureSource> {
  /** Sink hooks, called after telemetry's own. */
  hooks?: SinkHooks;
  /** Makes the sink's transport instead of kafkajs (KafkaSinkOptions.transport); called after telemetry started, as it may load a Kafka client. */
  transport?(kafka: ConntrailConfig['kafka']): SinkTransport | Promise<SinkTransport>;
  /** Sees each batch's events and the records published from them, after the push to the sink; records the outcome join releases later (wait expired, stop) come with no events. */
  tap?(events: CaptureEvent[], records: NetTCPConnect[]): void;
  /** Opens the source instead of CaptureSource.open(), with the same options (e.g. a feed of synthetic ring-buffer batches). */
  openSource?(options: CaptureSourceOptions): S;
  /** Runs once capture is attached and the sink is up, before the consumer thread starts (conntrail run leaves root here). */
  beforeCapture?(): void;
  /** startTelemetry's environment (default process.env), and a wrapper around its tracer. */
  telemetry?: { env?: NodeJS.ProcessEnv; wrapTracer?(tracer: PipelineTracer): PipelineTracer };
}

export interface RunningPipeline<S extends PipelineSource = CaptureSource> {
  source: S;
  enricher: Enricher;
  sink: KafkaSink;
  log: Logger;
  /** What /healthz and /readyz serve (telemetry.prometheusHost:prometheusPort). */
  health: Health;
  /** Stops capture, flushes the queue (bounded by `flushTimeoutMs`, default shutdown.flushTimeoutMs), closes Kafka. */
  stop(flushTimeoutMs?: number): Promise<void>;
}

/** Telemetry's sink hooks, then the caller's. */
function chainHooks(first: SinkHooks | undefined, second: SinkHooks | undefined): SinkHooks | undefined {
  if (!first || !second) return first ?? second;
  return {
    onBatchSend(b) { first.onBatchSend?.(b); second.onBatchSend?.(b); },
    onBatchSent(b, a) { first.onBatchSent?.(b, a); second.onBatchSent?.(b, a); },
    onBatchFailed(b, e) { first.onBatchFailed?.(b, e); second.onBatchFailed?.(b, e); },
  };
}

/** Starts every stage; resolves once capture is attached and records flow. */
export async function startPipeline<S extends PipelineSource = CaptureSource>(
  cfg: ConntrailConfig,
  log: Logger = createLogger(cfg.log.level),
  options: PipelineOptions<S> = {},
): Promise<RunningPipeline<S>> {
  const endpoints = resolveEndpoints(cfg, log);
  const effective: ConntrailConfig = {
    ...cfg,
    kafka: { ...cfg.kafka, brokers: endpoints.brokers },
    registry: { ...cfg.registry, url: endpoints.registryUrl },
  };

  // /healthz and /readyz (health.ts) beside /metrics, with telemetry on or off; port 0: no endpoint.
  const health = new Health();
  health.set('capture', notReady('attaching the connect probe'));
  if (cfg.encoding.format === 'avro') health.set('registry', notReady(`resolving the writer schema at ${endpoints.registryUrl}`));
  health.set('kafka', notReady(`connecting to ${endpoints.brokers.join(',')}`));
  const { prometheusHost, prometheusPort } = cfg.telemetry;
  const endpoint = prometheusPort !== 0 ? await startEndpoint({ host: prometheusHost, port: prometheusPort, health }) : null;
  const closeHealth = async (): Promise<void> => {
    health.close();
    await endpoint?.close();
  };

  // Telemetry before kafkajs is imported (instrumentation-kafkajs hooks the import).
  const host = readHostIdentity({ name: cfg.host.name });
  const telOptions = options.telemetry ?? {};
  const tel = await startTelemetry(cfg.telemetry, { hostName: host.name, machineId: host.machineId, bootId: host.bootId }, {
    topic: cfg.kafka.topic, logger: log, ...(telOptions.env ? { env: telOptions.env } : {}), ...(endpoint ? { endpoint } : {}),
  }).catch(async (err: unknown) => {
    await closeHealth();
    throw err;
  });
  let statsOf: (() => PipelineStats) | null = null;
  const metrics = tel ? tel.registerMetrics(() => (statsOf ? snapshotOf(statsOf()) : {})) : null;
  const pt = tel ? new PipelineTelemetry(telOptions.wrapTracer ? telOptions.wrapTracer(tel.tracer) : tel.tracer, metrics) : null;

  // The spool is opened before capture attaches: a directory that cannot be used is one line and no capture.
  let spool: Spool | null = null;
  if (cfg.spool.directory !== '') {
    try {
      spool = Spool.open(cfg.spool, log);
    } catch (err) {
      await tel?.shutdown();
      await closeHealth();
      throw err;
    }
  }

  const { CaptureSource: Source } = await import('./source/capture.ts');
  const { processContextFor } = await import('./source/process-context.ts');
  const records: NetTCPConnect[] = [];
  const tap = options.tap;
  // Capture attaches before Kafka is waited for, so a new host's first lines say what works; it stays
  // paused (the kernel ring holds what comes) until the sink is up. A batch drained before pause() took
  // effect waits here.
  let deliver: ((events: CaptureEvent[]) => void) | undefined = undefined;
  const early: CaptureEvent[][] = [];
  const open = options.openSource ?? ((o: CaptureSourceOptions) => Source.open(o) as unknown as S);
  let source: S;
  try {
    source = open({
      ladder: cfg.capture.ladder,
      ringBytes: cfg.capture.ringBufferBytes,
      pollIntervalMs: cfg.capture.pollIntervalMs,
      captureDns: cfg.capture.dns.enabled,
      captureExec: cfg.capture.exec,
      // the outcome probes feed the join only: off with it
      captureOutcome: cfg.enrich.outcomeWaitMs > 0,
      captureConnectExit: cfg.enrich.outcomeWaitMs > 0,
      connectExitTracepoint: cfg.capture.connectExitTracepoint,
      execArgsCap: Math.min(cfg.enrich.process.maxArgBytes, EXEC_MAX_ARGS),
      dnsPayloadCap: cfg.capture.dns.payloadCap,
      excludePorts: cfg.capture.exclude.ports,
      excludeCidrs: cfg.capture.exclude.cidrs,
      excludeSelf: true,
      paused: true,
      ...(cfg.capture.cgroupPath ? { cgroupPath: cfg.capture.cgroupPath } : {}),
      ...(cfg.capture.persist ? { pinPath: cfg.capture.pinPath || DEFAULT_PIN_PATH } : {}),
      processContext: processContextFor(cfg, host.bootId),
      onEvents(events) {
        if (deliver) deliver(events);
        else early.push(events);
      },
    });
  } catch (err) {
    spool?.close();
    await tel?.shutdown();
    await closeHealth();
    throw err;
  }
  source.pause?.();
  // The first lines a user sees: which probe attached, and why the others did not.
  for (const line of source.report()) log.info({ probe: source.probe }, line);
  health.set('capture', ok(`connect probe ${source.probe} attached`));
  const healthUrl = endpoint ? `${endpoint.url}/readyz` : null;
  if (tel) log.info({ traces: tel.traces, prometheus: tel.prometheusUrl, health: healthUrl, sampleRatio: cfg.telemetry.sampleRatio, kafkajsInstrumentation: tel.kafkajsInstrumented }, 'telemetry on');
  else log.info({ health: healthUrl }, 'telemetry off');
  let scope = cfg.enrich.dnsCache.scope;
  if (scope === 'netns' && source.dns?.attached && !source.dns.netnsScoped) {
    scope = 'host';
    log.warn({ configured: 'netns', used: 'host' }, 'enrich.dnsCache.scope: this kernel gives DNS replies no network namespace, so one host-wide DNS cache labels every connect');
  }
  // Records the outcome join lets go outside a kernel batch (their wait expired, or stop()) are
  // published as a batch of their own; set once the sink is up (nothing is held before).
  let releaseHeld: (held: NetTCPConnect[]) => void = () => {};
  // without the handshake probe no outcome comes: records go at once, with outcome null
  const outcomeWaitMs = source.outcome && !source.outcome.attached ? 0 : cfg.enrich.outcomeWaitMs;
  if (outcomeWaitMs !== cfg.enrich.outcomeWaitMs) {
    log.warn({ configured: cfg.enrich.outcomeWaitMs, used: 0 }, 'enrich.outcomeWaitMs: the outcome probe is not attached, so records are published at once without outcome or source address');
  }
  const outcomes = new OutcomeJoin({
    waitMs: outcomeWaitMs,
    maxPending: cfg.enrich.outcomeMaxPending,
    release: (held) => releaseHeld(held),
  });
  const enrich = new Enricher({
    host,
    outcomes,
    accounts: new Accounts({ passwdFile: cfg.enrich.accounts.passwdFile, groupFile: cfg.enrich.accounts.groupFile }),
    dnsCache: {
      maxNames: cfg.enrich.dnsCache.maxNames,
      maxAddresses: cfg.enrich.dnsCache.maxAddresses,
      scope,
      maxTtlSeconds: cfg.enrich.dnsCache.maxTtlSeconds,
    },
  });

  // The sink (and kafkajs) is imported only now, after telemetry could hook it.
  const { startSink } = await import('./sink/start.ts');
  const sinkOptions: Parameters<typeof startSink>[2] = { spool };
  const hooks = chainHooks(pt?.hooks, options.hooks);
  if (hooks) sinkOptions.hooks = hooks;
  if (pt) sinkOptions.wrapEncoder = (e) => pt.wrapEncoder(e);
  if (cfg.encoding.format === 'avro') sinkOptions.onEncoder = () => health.set('registry', ok('writer schema resolved'));
  let started: KafkaSink;
  try {
    if (options.transport) sinkOptions.transport = await options.transport(effective.kafka);
    started = await startSink(effective, log, sinkOptions);
  } catch (err) {
    spool?.close();
    await source.stop();
    await tel?.shutdown();
    await closeHealth();
    throw err;
  }
  health.set('kafka', () => kafkaCheck(started.stats()));
  health.set('queue', () => queueCheck(started.stats()));
  log.info({ brokers: endpoints.brokers, topic: cfg.kafka.topic, encoding: cfg.encoding.format, registry: cfg.encoding.format === 'avro' ? endpoints.registryUrl : undefined }, 'publishing to Kafka');

  // The heartbeat's status records (agent.heartbeatSec), beside the record queue on agent.statusTopic.
  const { createStatusEncoder } = await import('./encode/create.ts');
  const heartbeat = cfg.agent.heartbeatSec > 0 ? new Heartbeat({
    intervalMs: cfg.agent.heartbeatSec * 1000,
    identity: {
      host, version: conntrailVersion(), startedAt: Math.round(performance.timeOrigin), probe: source.probe,
      dnsCapture: source.dns ? dnsCaptureText({ attached: source.dns.attached, netnsScoped: source.dns.netnsScoped, reason: source.dns.reason ?? 'not attached' }) : 'unavailable: no DNS capture',
    },
    totals: () => statusTotals(source.counters(), started.stats()),
    dropTotal: () => source.dropTotal() + started.droppedTotal(),
    async send(status) {
      const encoder = await createStatusEncoder(effective, cfg.agent.statusTopic, { logger: log });
      await started.sendAside(cfg.agent.statusTopic, [{ key: status.host.name, value: encoder.encode(status), timestamp: String(Math.floor(status.timestamp / 1000)) }]);
    },
    logger: log,
  }) : null;
  // drops are looked for about once a second while batches come (the loss range's resolution)
  let observedAt = 0;

  const publish = (batch: NetTCPConnect[], t0: number): void => {
    if (batch.length === 0) return;
    pt?.sampleRecords(batch, t0);
    started.push(batch);
    pt?.afterPush();
  };
  const noEvents: CaptureEvent[] = [];
  releaseHeld = (held) => {
    publish(held, pt ? pt.now() : 0);
    tap?.(noEvents, held);
  };
  deliver = (events) => {
    if (heartbeat) {
      const now = performance.now();
      if (now - observedAt >= 1000) { observedAt = now; heartbeat.observe(); }
    }
    const t0 = pt ? pt.now() : 0;
    records.length = 0;
    enrich.process(events, records); // with the outcome join: the records whose outcome came in this batch
    publish(records, t0);
    tap?.(events, records);
  };
  for (const events of early.splice(0)) deliver(events);
  try {
    options.beforeCapture?.();
  } catch (err) {
    await started.stop(0);
    await source.stop();
    await tel?.shutdown();
    await closeHealth();
    throw err;
  }
  source.resume?.();

  statsOf = () => ({ capture: source.counters(), enrich: enrich.stats(), sink: started.stats() });
  const stats = new StatsReporter(log, statsOf);
  if (cfg.log.statsIntervalSec > 0) stats.start(cfg.log.statsIntervalSec * 1000);
  if (heartbeat) {
    void heartbeat.beat(); // the first one at once: a SIEM sees the (re)start
    heartbeat.start();
  }

  let stopping: Promise<void> | undefined;
  const stop = (flushTimeoutMs = cfg.shutdown.flushTimeoutMs): Promise<void> => {
    stopping ??= (async () => {
      health.stopping();
      stats.stop();
      await source.stop(); // delivers what is left in the ring into the queue
      outcomes.stop(); // the records still waiting for an outcome, as in_progress
      await heartbeat?.stop(true); // a last status record: the host stopped on purpose
      await started.stop(flushTimeoutMs);
      pt?.close();
      await tel?.shutdown();
      await closeHealth();
      stats.logOnce();
    })();
    return stopping;
  };
  return { source, enricher: enrich, sink: started, log, health, stop };
}

/** The main command: runs until SIGINT/SIGTERM, then flushes, detaches and exits 0. */
export async function runPipeline(cfg: ConntrailConfig): Promise<void> {
  const log = createLogger(cfg.log.level);
  const pipeline = await startPipeline(cfg, log, { beforeCapture: () => leaveRoot(log) });
  // Start-up (compiling, loading, connecting) is over: the ~15 MiB malloc holds
  // free from it go back to the kernel instead of staying in the idle agent's RSS.
  releaseFreedMemory();
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      log.info({ signal, flushTimeoutMs: cfg.shutdown.flushTimeoutMs }, 'stopping: flushing queued records, detaching probes');
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      pipeline.stop().then(resolve, (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exitCode = 1;
        resolve();
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  log.info('stopped');
}
