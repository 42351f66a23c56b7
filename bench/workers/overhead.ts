// Overhead on the host: connect-flood flat out (one process, loopback, closed
// port) with conntrail not attached, then attached in three depths, back to
// back in one round (bench/run.ts alternates the order between rounds):
//   raw       the BPF programs + the addon's consumer, batches counted, not decoded
//   decoded   + decode and process context (CaptureSource), events counted
//   pipeline  the whole pipeline as run.ts builds it (enrich, Avro, Kafka with acks=-1, default telemetry)
// The headline ratio is pipeline / bare. On this 2-core machine the generator,
// conntrail and the local Kafka broker share the cores, so the deeper modes
// also measure CPU contention, not only the in-kernel cost.
import { openCapture as openRaw } from 'bpf-native-loader';
import { CaptureSource } from '../../producer/source/capture.ts';
import { startGenerator } from '../lib/gen.ts';
import { benchConfig, processContextFor, startBenchPipeline } from '../lib/pipeline.ts';
import { cpuSeconds, followProcCpu, machineCpu, procCpuRss } from '../lib/proc.ts';
import { emitResult, note, workerOptions } from '../lib/worker.ts';

export type OverheadMode = 'bare' | 'raw' | 'decoded' | 'pipeline';
export interface OverheadOptions { topic: string; seconds: number; order: OverheadMode[]; brokerPid?: number }
export interface ModeFigures {
  rate: number;
  /** Connects of the generator that reached this process (raw: records counted from the batches). */
  received: number;
  kernelDrops: number;
  /** CPU of this process (cores) and of the Kafka broker (cores), during the generator's run. */
  producerCores: number;
  brokerCores: number;
  /** The generator's own CPU (cores): it is single-threaded, so 1 means it never waited for a core. */
  generatorCores: number;
  /** Busy CPU of the whole machine not accounted for by the generator, this process and the broker (other work on a shared machine), cores. */
  otherCores: number;
}
export type OverheadResult = Record<OverheadMode, ModeFigures>;

const o = workerOptions<OverheadOptions>();
const cfg = benchConfig({ kafka: { topic: o.topic } });

interface Attached { stop(): Promise<{ received: number; kernelDrops: number }>; setGenPid(pid: number): void }

async function attach(mode: Exclude<OverheadMode, 'bare'>): Promise<Attached> {
  let genPid = -1;
  let received = 0;
  if (mode === 'raw') {
    let bytes = 0;
    let drops = 0;
    const h = openRaw({
      ladder: cfg.capture.ladder, ringBytes: cfg.capture.ringBufferBytes, pollIntervalMs: cfg.capture.pollIntervalMs,
      captureDns: cfg.capture.dns.enabled, excludeSelf: true,
      onBatch(b) { bytes += b.data.length; drops = b.drops.connectRingFull; },
    });
    return {
      setGenPid() {},
      async stop() {
        await h.stop();
        return { received: Math.round(bytes / 112), kernelDrops: drops };
      },
    };
  }
  if (mode === 'decoded') {
    const src = CaptureSource.open({
      ladder: cfg.capture.ladder, ringBytes: cfg.capture.ringBufferBytes, pollIntervalMs: cfg.capture.pollIntervalMs,
      captureDns: cfg.capture.dns.enabled, excludeSelf: true, processContext: processContextFor(cfg),
      onEvents(evs) { for (const ev of evs) if (ev.kind === 'connect' && ev.pid === genPid) received++; },
    });
    return {
      setGenPid(p) { genPid = p; },
      async stop() {
        await src.stop();
        return { received, kernelDrops: src.counters().drops.connectRingFull };
      },
    };
  }
  const pipeline = await startBenchPipeline(cfg, {
    tap(events) { for (const ev of events) if (ev.kind === 'connect' && ev.pid === genPid) received++; },
  });
  return {
    setGenPid(p) { genPid = p; },
    async stop() {
      await pipeline.stop(30_000);
      return { received, kernelDrops: pipeline.source.counters().drops.connectRingFull };
    },
  };
}

async function measure(mode: OverheadMode): Promise<ModeFigures> {
  const a = mode === 'bare' ? null : await attach(mode);
  await new Promise((r) => setTimeout(r, 300));
  const c0 = cpuSeconds();
  const b0 = o.brokerPid ? procCpuRss(o.brokerPid)?.cpu ?? 0 : 0;
  const m0 = machineCpu();
  const t0 = performance.now();
  const g = startGenerator(0, o.seconds);
  const gcpu = followProcCpu(g.pid);
  a?.setGenPid(g.pid);
  const res = await g.done;
  const wall = (performance.now() - t0) / 1000;
  const genCores = gcpu.stop() / wall;
  const producerCores = (cpuSeconds() - c0) / wall;
  const brokerCores = o.brokerPid ? ((procCpuRss(o.brokerPid)?.cpu ?? 0) - b0) / wall : 0;
  const busy = (machineCpu().busy - m0.busy) / wall;
  const got = a ? await a.stop() : { received: 0, kernelDrops: 0 };
  return {
    rate: res.rate, received: got.received, kernelDrops: got.kernelDrops, producerCores, brokerCores,
    generatorCores: genCores, otherCores: Math.max(0, busy - genCores - producerCores - brokerCores),
  };
}

await startGenerator(0, 0.5).done; // warm the loopback path
const out = {} as OverheadResult;
for (const mode of o.order) out[mode] = await measure(mode);
note(`overhead: ${o.order.map((m) => `${m} ${out[m].rate}/s`).join(', ')}`);
emitResult(out);
