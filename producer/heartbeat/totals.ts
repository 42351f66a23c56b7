// The pipeline's counters (capture, sink) as a status record's totals.
import type { CaptureCounters } from '../source/capture.ts';
import type { SinkStats } from '../sink/sink.ts';
import { stageOfSinkReason } from './status.ts';
import type { StageDrops, StatusTotals } from './status.ts';

const sum = (counts: object): number => {
  let n = 0;
  for (const v of Object.values(counts) as number[]) n += v;
  return n;
};

export function statusTotals(capture: CaptureCounters, sink: SinkStats): StatusTotals {
  const drops: StageDrops = { kernel: sum(capture.drops), decode: sum(capture.malformed), queue: 0, spool: 0, publish: 0, shutdown: 0 };
  for (const [reason, n] of Object.entries(sink.drops)) drops[stageOfSinkReason(reason)] += n;
  return {
    captured: capture.received.connect,
    published: sink.published.records,
    drops,
    queueRecords: sink.queue.records,
    spool: sink.spool ? { records: sink.spool.records, bytes: sink.spool.bytes } : null,
    lastPublishAt: sink.lastPublishAt,
    lastError: sink.lastError,
  };
}
