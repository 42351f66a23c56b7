// The measured window of a bench worker: wall time, this process's CPU (in all
// and by thread group), the Kafka broker's CPU, the machine's busy time, peak
// RSS and, when asked, a CPU profile (written raw to `profile`, summarized).
import { writeFileSync } from 'node:fs';
import { cpuSeconds, machineCpu, procCpuRss, rssSampler, threadCores, threadCpu } from './proc.ts';
import { startProfiler, summarizeProfile } from './profile.ts';
import type { ProfileSummary } from './profile.ts';

export interface WindowOptions {
  /** RSS sampling interval, ms. */
  rssIntervalMs: number;
  /** The Kafka broker's pid, to tell its CPU from other work on the machine. */
  brokerPid?: number | undefined;
  /** Profile the window; write the raw profile here. */
  profile?: string | undefined;
}

export interface WindowFigures {
  /** performance.now() at the end of the window. */
  endMs: number;
  seconds: number;
  /** This process's CPU, seconds. */
  cpuS: number;
  /** This process's CPU by thread group, cores. */
  threads: Record<string, number>;
  /** The broker's CPU, seconds (0 without brokerPid). */
  brokerCpuS: number;
  peakRssMiB: number;
  profile?: ProfileSummary;
  /** Busy CPU of the machine not accounted for by this process, the broker and `othersCpuS` (e.g. the generator), cores. */
  otherCores(othersCpuS?: number): number;
}

export async function startWindow(o: WindowOptions): Promise<{ stop(): Promise<WindowFigures> }> {
  const brokerCpu = (): number => (o.brokerPid ? procCpuRss(o.brokerPid)?.cpu ?? 0 : 0);
  const profiler = o.profile ? await startProfiler() : null;
  const sampler = rssSampler(o.rssIntervalMs);
  const cpu0 = cpuSeconds();
  const th0 = threadCpu();
  const m0 = machineCpu();
  const b0 = brokerCpu();
  const t0 = performance.now();
  return {
    async stop() {
      const endMs = performance.now();
      const seconds = (endMs - t0) / 1000;
      const cpuS = cpuSeconds() - cpu0;
      const threads = threadCores(th0, threadCpu(), seconds);
      const busyS = machineCpu().busy - m0.busy;
      const brokerCpuS = brokerCpu() - b0;
      const peak = sampler.stop();
      let profile: ProfileSummary | undefined;
      if (profiler) {
        const prof = await profiler.stop();
        writeFileSync(o.profile!, JSON.stringify(prof));
        profile = summarizeProfile(prof);
      }
      return {
        endMs, seconds, cpuS, threads, brokerCpuS, peakRssMiB: peak.peakMiB,
        ...(profile ? { profile } : {}),
        otherCores: (othersCpuS = 0) => Math.max(0, (busyS - brokerCpuS - cpuS - othersCpuS) / seconds),
      };
    },
  };
}
