// Starts OpenTelemetry for conntrail (issue 6).
//
// startTelemetry() must run before kafkajs is imported (run.ts imports its
// kafkajs-using modules dynamically after it), so that the optional
// instrumentation-kafkajs can hook the module. With telemetry off it returns
// null having loaded no OpenTelemetry package: this file imports them only
// dynamically, and its static imports are types (erased).
//
// Where things go:
// - traces: telemetry.otlpEndpoint (OTLP/HTTP, <endpoint>/v1/traces) if set;
//   else the standard OTEL_* variables when one of OTEL_TRACES_EXPORTER,
//   OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set;
//   else none, and the pipeline tracer is the no-op one (no per-event cost).
//   OTEL_TRACES_EXPORTER=none turns traces off in every case.
// - metrics: a Prometheus scrape endpoint on prometheusHost:prometheusPort
//   (port 0: none; /metrics of the endpoint run.ts started, http.ts, which
//   also serves /healthz and /readyz, or one of its own), plus OTLP metrics to telemetry.otlpEndpoint
//   (<endpoint>/v1/metrics) or to what OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT /
//   OTEL_METRICS_EXPORTER=otlp say.
// - OTEL_SDK_DISABLED=true turns everything off, like telemetry.enabled=false.
// - OTEL_EXPORTER_OTLP_PROTOCOL=http/json switches the config endpoint's
//   exporters from http/protobuf (the default) to JSON.
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import type { ConntrailConfig } from '../config/load.ts';
import type { PipelineStatsSnapshot, PipelineTracer, Telemetry, TelemetryResourceInfo } from './types.ts';
import type { NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import type { IMetricReader } from '@opentelemetry/sdk-metrics';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { Endpoint } from './http.ts';

export type TelemetryConfig = ConntrailConfig['telemetry'];

export class TelemetryError extends Error {
  override name = 'TelemetryError';
  readonly userFacing = true;
}

export interface TelemetryOptions {
  /** Kafka topic, for span names (`create <topic>`). */
  topic: string;
  /** Where OpenTelemetry's own warnings and export errors go (unless OTEL_LOG_LEVEL is set). */
  logger?: { warn(msg: string): void; error(msg: string): void; debug?(msg: string): void };
  /** Environment to read OTEL_* from (default process.env; tests). */
  env?: NodeJS.ProcessEnv;
  /** Random source for the event sampler (tests). */
  random?: () => number;
  /**
   * The HTTP endpoint (http.ts) already listening on prometheusHost:prometheusPort
   * to serve /metrics on; without it startTelemetry listens there itself.
   */
  endpoint?: Endpoint;
  /** shutdown() waits at most this long for the last exports (an unreachable collector is retried for ~8 s). Default 3000. */
  shutdownTimeoutMs?: number;
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && ['true', '1', 'yes', 'on'].includes(v.trim().toLowerCase());
}

function listOf(v: string | undefined): string[] {
  return (v ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
}

/** A diag message on one line: the SDK logs export errors as JSON of the error. */
function oneLine(msg: string, args: unknown[]): string {
  let text = msg;
  if (msg.startsWith('{')) {
    try {
      const e = JSON.parse(msg) as { message?: unknown };
      if (typeof e.message === 'string') text = `export failed: ${e.message}`;
    } catch {
      /* not JSON */
    }
  }
  const rest = args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
  return (rest ? `${text} ${rest}` : text).replace(/\s*\n\s*/g, ' ');
}

function signalUrl(endpoint: string, signal: 'traces' | 'metrics'): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/${signal}`;
}

/** Where traces go, from the config and the environment. */
export function traceDestination(cfg: TelemetryConfig, env: NodeJS.ProcessEnv): 'config' | 'env' | 'none' {
  const exporters = listOf(env.OTEL_TRACES_EXPORTER);
  if (exporters.includes('none')) return 'none';
  if (cfg.otlpEndpoint) return 'config';
  if (exporters.length > 0 || env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return 'env';
  return 'none';
}

/** Whether OTLP metrics go out, and where from. */
export function metricDestination(cfg: TelemetryConfig, env: NodeJS.ProcessEnv): 'config' | 'env' | 'none' {
  const exporters = listOf(env.OTEL_METRICS_EXPORTER);
  if (exporters.includes('none')) return 'none';
  if (cfg.otlpEndpoint) return 'config';
  if (exporters.includes('otlp') || env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT) return 'env';
  return 'none';
}

// The OpenTelemetry packages are loaded with require, as CommonJS (every one
// ships both builds): their ESM builds import node:http, and an ESM import of
// node:http builds its ESM facade, which reads every export, among them the
// lazy ones (WebSocket...) that load undici: ~12 MiB of RSS in an idle agent.
// All through here, so that each package is loaded once, in one build.
const requireOtel = createRequire(import.meta.url);
interface OtelPackages {
  '@opentelemetry/api': typeof import('@opentelemetry/api');
  '@opentelemetry/resources': typeof import('@opentelemetry/resources');
  '@opentelemetry/sdk-metrics': typeof import('@opentelemetry/sdk-metrics');
  '@opentelemetry/exporter-prometheus': typeof import('@opentelemetry/exporter-prometheus');
  '@opentelemetry/exporter-trace-otlp-http': typeof import('@opentelemetry/exporter-trace-otlp-http');
  '@opentelemetry/exporter-trace-otlp-proto': typeof import('@opentelemetry/exporter-trace-otlp-proto');
  '@opentelemetry/exporter-metrics-otlp-http': typeof import('@opentelemetry/exporter-metrics-otlp-http');
  '@opentelemetry/exporter-metrics-otlp-proto': typeof import('@opentelemetry/exporter-metrics-otlp-proto');
  '@opentelemetry/instrumentation-kafkajs': typeof import('@opentelemetry/instrumentation-kafkajs');
  '@opentelemetry/sdk-node': typeof import('@opentelemetry/sdk-node');
}
function otel<K extends keyof OtelPackages>(name: K): OtelPackages[K] {
  return requireOtel(name) as OtelPackages[K];
}

/** Whether a module was already loaded through require (CommonJS, including CommonJS imported from ESM). */
function alreadyLoaded(moduleName: string): boolean {
  try {
    const require = createRequire(import.meta.url);
    return require.resolve(moduleName) in require.cache;
  } catch {
    return false;
  }
}

/**
 * Start OpenTelemetry, or return null when telemetry is off (config
 * telemetry.enabled=false or OTEL_SDK_DISABLED=true) without loading it.
 * Throws TelemetryError when the Prometheus endpoint cannot listen.
 */
export async function startTelemetry(
  cfg: TelemetryConfig,
  info: TelemetryResourceInfo,
  options: TelemetryOptions,
): Promise<Telemetry | null> {
  const env = options.env ?? process.env;
  if (!cfg.enabled || truthy(env.OTEL_SDK_DISABLED)) return null;

  const instrumentKafkajs = cfg.kafkajsInstrumentation;
  if (instrumentKafkajs && alreadyLoaded('kafkajs')) {
    throw new TelemetryError('telemetry.kafkajsInstrumentation: kafkajs was imported before startTelemetry(); it cannot be instrumented');
  }

  const api = otel('@opentelemetry/api');
  const resources = otel('@opentelemetry/resources');
  const sdkMetrics = otel('@opentelemetry/sdk-metrics');
  const { PrometheusExporter } = otel('@opentelemetry/exporter-prometheus');
  const [tracing, metricsMod, { NOOP_TRACER }] = await Promise.all([import('./tracing.ts'), import('./metrics.ts'), import('./noop.ts')]);

  const log = options.logger;
  if (log && !env.OTEL_LOG_LEVEL) {
    api.diag.setLogger(
      {
        error: (msg, ...args) => log.error(`opentelemetry: ${oneLine(msg, args)}`),
        warn: (msg, ...args) => log.warn(`opentelemetry: ${oneLine(msg, args)}`),
        info: () => {},
        debug: () => {},
        verbose: () => {},
      },
      api.DiagLogLevel.WARN,
    );
  }

  const json = (env.OTEL_EXPORTER_OTLP_PROTOCOL ?? '').trim() === 'http/json';
  const sdkConfig: Partial<NodeSDKConfiguration> = {};

  // Resource: SDK defaults < host/process detectors < conntrail's own < OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME.
  const own: Record<string, string> = {
    'service.name': 'conntrail',
    'service.instance.id': randomUUID(),
    'host.name': info.hostName,
    ...(info.serviceVersion ? { 'service.version': info.serviceVersion } : {}),
    ...(info.machineId ? { 'host.id': info.machineId } : {}),
    ...(info.bootId ? { 'host.boot.id': info.bootId } : {}),
    ...info.attributes,
  };
  sdkConfig.autoDetectResources = false;
  const resource = resources
    .defaultResource()
    .merge(resources.detectResources({ detectors: [resources.hostDetector, resources.processDetector] }))
    .merge(resources.resourceFromAttributes(own))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  // host.id is read from a file: settle it now, not on the first export.
  await resource.waitForAsyncAttributes?.();
  sdkConfig.resource = resource;

  // Traces.
  const traces = traceDestination(cfg, env);
  let tracesLabel = 'none';
  if (traces === 'config') {
    const url = signalUrl(cfg.otlpEndpoint, 'traces');
    const { OTLPTraceExporter } = json
      ? otel('@opentelemetry/exporter-trace-otlp-http')
      : otel('@opentelemetry/exporter-trace-otlp-proto');
    sdkConfig.traceExporter = new OTLPTraceExporter({ url });
    tracesLabel = `otlp ${url}`;
  } else if (traces === 'env') {
    tracesLabel = 'env';
  } else {
    sdkConfig.spanProcessors = [];
  }

  // Metrics.
  const readers: IMetricReader[] = [];
  let prometheus: PrometheusExporter | null = null;
  if (cfg.prometheusPort !== 0) {
    prometheus = new PrometheusExporter({
      host: cfg.prometheusHost,
      port: cfg.prometheusPort,
      preventServerStart: true,
    });
    readers.push(prometheus);
  }
  const metricsTo = metricDestination(cfg, env);
  if (metricsTo !== 'none') {
    const { OTLPMetricExporter } = json
      ? otel('@opentelemetry/exporter-metrics-otlp-http')
      : otel('@opentelemetry/exporter-metrics-otlp-proto');
    const exporter =
      metricsTo === 'config'
        ? new OTLPMetricExporter({ url: signalUrl(cfg.otlpEndpoint, 'metrics') })
        : new OTLPMetricExporter();
    const interval = Number(env.OTEL_METRIC_EXPORT_INTERVAL);
    readers.push(
      new sdkMetrics.PeriodicExportingMetricReader({
        exporter,
        exportIntervalMillis: interval > 0 ? interval : 60_000,
      }),
    );
  }
  sdkConfig.metricReaders = readers;
  // conntrail logs through pino, not OpenTelemetry: no log exporter (the SDK
  // would otherwise default to OTLP on localhost:4318).
  sdkConfig.logRecordProcessors = [];

  // instrumentation-kafkajs: one span per message, off by default.
  if (instrumentKafkajs) {
    // kafkajs is CommonJS imported from ESM: the require hook does not see
    // that import (checked: Kafka.prototype.producer stays unwrapped without
    // this), so register the import hook, for kafkajs only, before anything
    // imports it.
    const { register } = await import('node:module');
    register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: { include: ['kafkajs'] } });
    const { KafkaJsInstrumentation } = otel('@opentelemetry/instrumentation-kafkajs');
    sdkConfig.instrumentations = [new KafkaJsInstrumentation()];
  } else {
    sdkConfig.instrumentations = [];
  }

  // Metrics only (the default without an OTLP endpoint): the MeterProvider the
  // NodeSDK would make, without loading the SDK's trace, log and exporter
  // packages (~12 MiB of RSS on an idle agent).
  let sdk: { shutdown(): Promise<void> };
  if (traces === 'none' && !instrumentKafkajs) {
    const provider = new sdkMetrics.MeterProvider({ resource, readers });
    api.metrics.setGlobalMeterProvider(provider);
    sdk = provider;
  } else {
    const { NodeSDK } = otel('@opentelemetry/sdk-node');
    const nodeSdk = new NodeSDK(sdkConfig);
    nodeSdk.start();
    sdk = nodeSdk;
  }

  let prometheusUrl: string | null = null;
  let endpoint: Endpoint | null = null;
  if (prometheus) {
    const exporter = prometheus;
    endpoint = options.endpoint ?? null;
    if (!endpoint) {
      const { startEndpoint } = await import('./http.ts');
      try {
        endpoint = await startEndpoint({ host: cfg.prometheusHost, port: cfg.prometheusPort });
      } catch (e) {
        await sdk.shutdown().catch(() => {});
        throw new TelemetryError((e as Error).message);
      }
    }
    endpoint.setMetrics((req, res) => exporter.getMetricsRequestHandler(req, res));
    prometheusUrl = `${endpoint.url}/metrics`;
  }
  const ownEndpoint = endpoint && endpoint !== options.endpoint ? endpoint : null;

  const version = info.serviceVersion;
  const tracer: PipelineTracer =
    traces === 'none'
      ? NOOP_TRACER
      : tracing.createPipelineTracer(api.trace.getTracer('conntrail', version), {
          sampleRatio: cfg.sampleRatio,
          maxPerSecond: cfg.maxTracedEventsPerSecond,
          topic: options.topic,
          random: options.random,
        });
  const meter = api.metrics.getMeter('conntrail', version);

  let stopped: Promise<void> | null = null;
  return {
    tracer,
    traces: tracesLabel,
    prometheusUrl,
    kafkajsInstrumented: instrumentKafkajs,
    registerMetrics: (snapshot: () => PipelineStatsSnapshot) => metricsMod.registerPipelineMetrics(meter, snapshot),
    shutdown(): Promise<void> {
      if (stopped) return stopped;
      const limit = options.shutdownTimeoutMs ?? 3000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          log?.warn(`opentelemetry: shutdown: last exports not done after ${limit} ms; giving up on them`);
          resolve();
        }, limit);
        timer.unref();
      });
      stopped = Promise.race([
        sdk.shutdown().catch((e: unknown) => {
          log?.warn(`opentelemetry: shutdown: ${(e as Error).message}`);
        }),
        timeout,
      ])
        .finally(async () => {
          clearTimeout(timer);
          endpoint?.setMetrics(null);
          await ownEndpoint?.close();
          // Leave the process as before: a later startTelemetry() registers afresh.
          api.trace.disable();
          api.metrics.disable();
          api.logs.disable();
          api.context.disable();
          api.propagation.disable();
          api.diag.disable();
        });
      return stopped;
    },
  };
}
