// CPU profiles (V8 .cpuprofile, from node:inspector or node --cpu-prof)
// summarized: self time by area of the code (time spent in Node internals and
// builtins is charged to the nearest project or library frame that called
// them) and the hottest functions.
import { Session } from 'node:inspector/promises';

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
export interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

export interface ProfileSummary {
  totalMs: number;
  byArea: { area: string; ms: number; share: number }[];
  top: { fn: string; where: string; area: string; ms: number; share: number }[];
}

function areaOfUrl(url: string, fn: string): string | null {
  if (!url) {
    if (fn === '(garbage collector)') return 'GC';
    if (fn === '(program)') return 'V8/native (program)';
    if (fn === '(idle)') return 'idle';
    return null;
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm) {
    const pkg = nm[1]!;
    if (pkg === 'avsc') return 'avsc (Avro encode)';
    return pkg;
  }
  if (url.includes('/producer/source/')) return 'decode + process context (producer/source)';
  if (url.includes('/producer/transform/dns/')) return 'DNS parse + cache (producer/transform/dns)';
  if (url.includes('/producer/transform/')) return 'enrich (producer/transform)';
  if (url.includes('/producer/encode/')) return 'encode (producer/encode)';
  if (url.includes('/producer/sink/')) return 'sink: queue + batching (producer/sink)';
  if (url.includes('/producer/telemetry/')) return 'telemetry (producer/telemetry)';
  if (url.includes('/producer/')) return 'producer (other)';
  if (url.includes('/bench/')) return 'bench harness (input feed)';
  return null; // node:internal, builtins: charged to the caller
}

/** `busyOnly`: leave out the samples where the thread was idle (shares of the busy time: an idle agent's profile is ~99% idle). */
export function summarizeProfile(p: CpuProfile, topN = 25, busyOnly = false): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    // timeDeltas[i] is the time before sample i; charge the following delta to it
    const dt = p.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const areaCache = new Map<number, string>();
  const areaOf = (id: number): string => {
    const hit = areaCache.get(id);
    if (hit) return hit;
    let cur: number | undefined = id;
    let area: string | null = null;
    let internal = false;
    while (cur !== undefined) {
      const n = byId.get(cur)!;
      area = areaOfUrl(n.callFrame.url, n.callFrame.functionName);
      if (area) break;
      if (n.callFrame.url.startsWith('node:')) internal = true;
      cur = parent.get(cur);
    }
    const res = area ?? (internal ? 'node internals' : 'other');
    areaCache.set(id, res);
    return res;
  };
  let total = 0;
  const areas = new Map<string, number>();
  const fns = new Map<string, { fn: string; where: string; area: string; us: number }>();
  for (const [id, us] of selfUs) {
    if (us === 0) continue;
    const n = byId.get(id)!;
    if (busyOnly && n.callFrame.functionName === '(idle)' && !n.callFrame.url) continue;
    const area = areaOf(id);
    total += us;
    areas.set(area, (areas.get(area) ?? 0) + us);
    const where = n.callFrame.url ? `${n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules|producer|bench|bpf)\//, '$1/')}:${n.callFrame.lineNumber + 1}` : '(native)';
    const key = `${n.callFrame.functionName}@${where}`;
    const f = fns.get(key) ?? { fn: n.callFrame.functionName || '(anonymous)', where, area, us: 0 };
    f.us += us;
    fns.set(key, f);
  }
  const r = (us: number): number => Math.round(us / 100) / 10;
  const share = (us: number): number => (total > 0 ? Math.round((us / total) * 1000) / 10 : 0);
  return {
    totalMs: r(total),
    byArea: [...areas].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, ms: r(us), share: share(us) })),
    top: [...fns.values()].sort((a, b) => b.us - a.us).slice(0, topN).map((f) => ({ fn: f.fn, where: f.where, area: f.area, ms: r(f.us), share: share(f.us) })),
  };
}

/** In-process CPU profiler (the same sampler as node --cpu-prof), started and stopped around the measured window. */
export async function startProfiler(intervalUs = 500): Promise<{ stop(): Promise<CpuProfile> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      return profile as unknown as CpuProfile;
    },
  };
}
