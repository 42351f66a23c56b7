// Telemetry off: a tracer that samples nothing and metrics that record
// nothing. No OpenTelemetry package is loaded for these.
import type { BatchTrace, EventTrace, PipelineMetrics, PipelineTracer } from './types.ts';

const NOOP_BATCH: BatchTrace = {
  end(): void {},
  with<T>(fn: () => T): T {
    return fn();
  },
};

export const NOOP_TRACER: PipelineTracer = {
  enabled: false,
  sampleEvent(): EventTrace | null {
    return null;
  },
  startBatch(): BatchTrace {
    return NOOP_BATCH;
  },
};

export const NOOP_METRICS: PipelineMetrics = {
  recordLatency(): void {},
  unregister(): void {},
};
