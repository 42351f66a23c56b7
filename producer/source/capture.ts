// CaptureSource: the kernel capture as typed event batches. Wraps
// openCapture() (bpf-native-loader) and the record decoder, adds process
// context (ppid, exe, container id) to connect events and keeps counters.
import { clockOffsetNs, dropsOf, openCapture } from 'bpf-native-loader';
import type { AttachAttempt, CaptureHandle, CaptureOptions, CaptureStats, DnsAttachStatus, DropCounters, KernelCounters, CompanionAttachStatus, KernelObjectIds, PersistStatus, ProbeName, RawBatch } from 'bpf-native-loader';
import { BatchStep } from './batch.ts';
import type { StepCounters } from './batch.ts';
import { RecordDecoder } from './decode.ts';
import { ProcessContextCache } from './process-context.ts';
import type { CaptureEvent } from './types.ts';

export interface CaptureSourceOptions extends Omit<CaptureOptions, 'onBatch' | 'onError'> {
  /** Called once per kernel batch with its events, in ring-buffer order. */
  onEvents(events: CaptureEvent[]): void;
  /** Called when onEvents throws (default: rethrown as an uncaught exception). */
  onError?(err: unknown): void;
  /** Add exe/containerId (and ppid if the kernel had none) to connect events. Default true. */
  processContext?: boolean | ProcessContextCache;
  /** Refresh the boot-clock to wall-clock offset this often, ms. Default 60000. */
  clockRefreshMs?: number;
}

/** The step's counters (received: events handed to onEvents), and the kernel's. */
export interface CaptureCounters extends StepCounters {
  /** Records lost in the kernel (ring buffer full, skb read errors). */
  drops: DropCounters;
  /** All kernel counters (seen, excluded, drops). */
  kernel: KernelCounters;
  native: Omit<CaptureStats, 'kernel'> | null;
  /** Whether DNS replies are captured (connects are either way), and why not. */
  dnsCapture?: { attached: boolean; netnsScoped: boolean; reason?: string };
}

function dnsCaptureOf(d: DnsAttachStatus): NonNullable<CaptureCounters['dnsCapture']> {
  return { attached: d.attached, netnsScoped: d.netnsScoped, ...(d.attached ? {} : { reason: d.reason ?? 'not attached' }) };
}

const ZERO_KERNEL: KernelCounters = {
  connectRingFull: 0, dnsRingFull: 0, dnsReadError: 0, connectSeen: 0, dnsSeen: 0, excludedSelf: 0, excludedPort: 0, excludedCidr: 0,
  outcomeRingFull: 0, outcomeSeen: 0, execRingFull: 0, execSeen: 0, outcomeExcluded: 0,
};

export class CaptureSource {
  readonly #step: BatchStep;
  #handle: CaptureHandle | undefined;
  #kernel: KernelCounters = ZERO_KERNEL;
  #clockTimer: NodeJS.Timeout | undefined;
  readonly #onEvents: (events: CaptureEvent[]) => void;

  /** Opens the capture (walks the ladder). Throws AttachError or BuildMissingError. */
  static open(opts: CaptureSourceOptions): CaptureSource {
    return new CaptureSource(opts);
  }

  private constructor(opts: CaptureSourceOptions) {
    const decoder = new RecordDecoder({ wallOffsetNs: clockOffsetNs() });
    this.#step = new BatchStep(decoder, opts.processContext === false ? undefined
      : opts.processContext instanceof ProcessContextCache ? opts.processContext : new ProcessContextCache());
    this.#onEvents = opts.onEvents;
    const { onEvents: _e, onError, processContext: _p, clockRefreshMs, ...captureOpts } = opts;
    this.#handle = openCapture({ ...captureOpts, onBatch: (b) => this.#onBatch(b), onError });
    this.#clockTimer = setInterval(() => decoder.setWallOffset(clockOffsetNs()), clockRefreshMs ?? 60_000);
    this.#clockTimer.unref();
  }

  get decoder(): RecordDecoder {
    return this.#step.decoder;
  }

  get processContext(): ProcessContextCache | undefined {
    return this.#step.processContext;
  }

  get probe(): ProbeName {
    return this.#need().probe;
  }

  get attempts(): readonly AttachAttempt[] {
    return this.#need().attempts;
  }

  get dns(): DnsAttachStatus {
    return this.#need().dns;
  }

  /** The outcome probes: attached, or why not (records then carry no outcome nor source address). */
  get outcome(): CompanionAttachStatus {
    return this.#need().outcome;
  }

  /** The connect() exit probe: attached, or why not (connects failing with no handshake then publish without their error). */
  get connectExit(): CompanionAttachStatus {
    return this.#need().connectExit;
  }

  /** The exec probe: attached, or why not (processes gone before /proc is read then lose their path and argv). */
  get exec(): CompanionAttachStatus {
    return this.#need().exec;
  }

  /** What capture.persist did: pinned here, adopted a pinned capture (replacing an incompatible one), or off/failed. */
  get persist(): PersistStatus {
    return this.#need().persist;
  }

  /** The attach report: the winning probe first, then each failed rung with errno and reason. */
  report(): string[] {
    return this.#need().report();
  }

  counters(): CaptureCounters {
    let native: CaptureCounters['native'] = null;
    if (this.#handle) {
      const { kernel, ...rest } = this.#handle.stats();
      native = rest;
      this.#kernel = kernel;
    }
    const { received, malformed, dnsTruncated, batches, processContext } = this.#step.counters();
    return {
      received,
      malformed,
      drops: dropsOf(this.#kernel),
      kernel: { ...this.#kernel },
      dnsTruncated,
      batches,
      native,
      processContext,
      ...(this.#handle ? { dnsCapture: dnsCaptureOf(this.#handle.dns) } : {}),
    };
  }

  /**
   * Records lost so far, in the kernel and in decoding, without reading the
   * native counters: the kernel's as of the last batch (a ring that drops
   * still delivers batches). The sum of counters()'s drops and malformed.
   */
  dropTotal(): number {
    let n = 0;
    for (const v of Object.values(dropsOf(this.#kernel))) n += v;
    for (const v of Object.values(this.#step.decoder.counts.malformed)) n += v;
    return n;
  }

  /** Kernel ids of the loaded programs and maps (empty after stop()). */
  kernelIds(): KernelObjectIds {
    return this.#need().kernelIds();
  }

  pause(): void {
    this.#handle?.pause();
  }

  resume(): void {
    this.#handle?.resume();
  }

  /** Detaches (a persisted capture stays attached in the kernel), delivers what is left in the ring, releases everything. */
  async stop(): Promise<void> {
    if (this.#clockTimer) clearInterval(this.#clockTimer);
    this.#clockTimer = undefined;
    await this.#handle?.stop();
  }

  #need(): CaptureHandle {
    if (!this.#handle) throw new Error('capture is not open');
    return this.#handle;
  }

  #onBatch(batch: RawBatch): void {
    this.#kernel = batch.counters;
    const events = this.#step.run(batch.data);
    if (events.length) this.#onEvents(events);
  }
}
