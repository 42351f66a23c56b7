// The source's per-batch step: one ring-buffer batch (framed kernel records)
// -> events, decoded, with process context (exe, container id, ppid when the
// kernel had none) on connect events. CaptureSource runs it on every batch the
// kernel hands over; the benchmarks run it on synthetic batches, so both
// measure and ship the same step.
import type { RecordDecoder } from './decode.ts';
import type { ProcessContextCache, ProcessContextStats } from './process-context.ts';
import type { CaptureEvent, MalformedReason } from './types.ts';
import type { ProbeName } from 'bpf-native-loader';

/** The counters that come from the step (the rest of CaptureCounters comes from the kernel). */
export interface StepCounters {
  /** Events decoded and handed on. */
  received: { connect: number; dns: number; outcome: number; exec: number; byProbe: Record<ProbeName, number> };
  /** Records skipped by the decoder, by reason. */
  malformed: Record<MalformedReason, number>;
  /** DNS replies whose payload was cut by the capture cap. */
  dnsTruncated: number;
  batches: number;
  processContext: ProcessContextStats | null;
}

export class BatchStep {
  readonly decoder: RecordDecoder;
  /** Undefined: connect events keep what the kernel gave (no /proc reads). */
  readonly processContext: ProcessContextCache | undefined;
  #batches = 0;
  #dnsTruncated = 0;

  constructor(decoder: RecordDecoder, processContext?: ProcessContextCache) {
    this.decoder = decoder;
    this.processContext = processContext;
  }

  /** The events of one batch, in ring-buffer order ([] for an empty batch). */
  run(data: Buffer): CaptureEvent[] {
    this.#batches++;
    if (data.length === 0) return [];
    const events = this.decoder.decode(data);
    const pc = this.processContext;
    for (const ev of events) {
      if (ev.kind === 'dns') {
        if (ev.truncated) this.#dnsTruncated++;
      } else if (ev.kind === 'exec') {
        // before the connects after it in the ring: a process that exits at once is known by its exec
        pc?.noteExec(ev);
      } else if (ev.kind === 'connect' && pc) {
        const ctx = pc.get(ev.pid, ev.procStartNs, ev.ppid);
        ev.exe = ctx.exe;
        ev.containerId = ctx.containerId;
        ev.context = ctx;
        if (ev.ppid === 0 && ctx.ppid !== null) ev.ppid = ctx.ppid;
      }
    }
    return events;
  }

  counters(): StepCounters {
    const c = this.decoder.counts;
    return {
      received: { connect: c.connect, dns: c.dns, outcome: c.outcome, exec: c.exec, byProbe: { ...c.byProbe } },
      malformed: { ...c.malformed },
      dnsTruncated: this.#dnsTruncated,
      batches: this.#batches,
      processContext: this.processContext?.stats() ?? null,
    };
  }
}
