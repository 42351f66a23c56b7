// Footprint (issue 15): the real CLI as a host runs it. Spawns `node
// <app>/producer/cli.js run`, the app compiled to JavaScript as the package
// ships it (bench/lib/app-js.ts; default config, pointed at the local stack,
// its own topic and a free Prometheus port), with a bench-only preload
// (bench/tools/heap-probe.js) that writes the JS heap to a file on SIGUSR2,
// waits for /readyz, then measures it from outside, through /proc:
//
//   idle    connect-flood at 1 connect/s: cores in all and by thread
//           (/proc/<pid>/task/*/stat utime+stime, grouped by comm), wake-ups
//           per second by thread (voluntary + nonvoluntary context switches,
//           /proc/<pid>/task/*/status), RSS (RssAnon, RssFile), the heap;
//   load    connect-flood at 10,000/s: the same, and cores per 10k events/s;
//   dns     bench/tools/dns-flood.ts: RSS and heap with the DNS cache empty,
//           then full of names (one address per reply: 65,536 names, 32,768
//           addresses), then at both default bounds (two addresses per reply,
//           new names: 65,536 names, 65,536 addresses), each after an idle
//           settle. The two fills give the cost of a name and of an address.
//
// /metrics is never scraped inside a CPU window (a scrape is work for the
// process measured); only between the windows, for the counts and the gauges.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildAppJs } from '../lib/app-js.ts';
import { startGenerator } from '../lib/gen.ts';
import { benchConfig, freePort } from '../lib/pipeline.ts';
import { summarizeProfile, type CpuProfile, type ProfileSummary } from '../lib/profile.ts';
import { cpuSeconds, followProcCpu, machineCpu, procCpuRss, procThreads } from '../lib/proc.ts';
import { emitResult, note, workerOptions } from '../lib/worker.ts';

export interface FootprintOptions {
  topic: string;
  /** Seconds at 1 connect/s. */
  idleSeconds: number;
  /** connects/s of the load phase (10,000). */
  loadRate: number;
  loadSeconds: number;
  /** Idle after ready, and after the load phase, before the next measurement. */
  settleSeconds: number;
  /** Idle after each DNS fill before its measurement. */
  floodIdleSeconds: number;
  /** Replies per fill (each fill must reach the cache's bounds: 32,768 replies at least). */
  floodReplies: number;
  /** The Kafka broker's pid, to tell its CPU from other work on the machine. */
  brokerPid?: number;
  /** After the measured phases, profile the JS thread for `profileSeconds` more at 1 connect/s and write the raw .cpuprofile here. */
  profile?: string;
  profileSeconds?: number;
}

export interface ThreadFigure { threads: number; cores: number; wakeupsPerS: number; voluntaryPerS: number; nonvoluntaryPerS: number }

export interface HeapFigures {
  /** process.memoryUsage() as the process has it, MiB. */
  heapUsedMiB: number; heapTotalMiB: number; externalMiB: number; arrayBuffersMiB: number;
  /** The same right after a full GC: what is still referenced, MiB. */
  liveHeapUsedMiB: number; liveHeapTotalMiB: number; liveExternalMiB: number;
  /** v8.getHeapStatistics().total_physical_size, MiB (before the GC). */
  physicalMiB: number;
}

export interface MemFigures { rssMiB: number; rssAnonMiB: number; rssFileMiB: number; heap: HeapFigures | null }

export interface PhaseFigures {
  seconds: number;
  cores: number;
  wakeupsPerS: number;
  threads: Record<string, ThreadFigure>;
  /** At the end of the phase. */
  mem: MemFigures;
  peakRssMiB: number;
  generated: number;
  generatedRate: number;
  /** Connect events conntrail read from the kernel in the phase (every process's, from /metrics). */
  connectEvents: number;
  eventsPerS: number;
  generatorCores: number;
  brokerCores: number;
  /** Busy CPU of the machine not accounted for by conntrail, the generator, the broker and this worker, cores. */
  otherCores: number;
}

export interface CachePoint {
  names: number;
  addresses: number;
  mem: MemFigures;
  /** RSS when conntrail had read the last reply, before the idle settle (V8 shrinks its heap some seconds after a burst). */
  rssAfterFloodMiB?: number;
}

export interface FootprintResult {
  port: number;
  /** Spawn to /readyz 200. */
  startupS: number;
  idle: PhaseFigures;
  load: PhaseFigures & { rate: number; published: number; kernelDrops: number; coresPer10kEvents: number };
  dns: {
    empty: CachePoint;
    /** After the 1-address flood. */
    names: CachePoint;
    /** After the 2-address flood: both default bounds. */
    full: CachePoint;
    repliesSent: number;
    floodRate: number;
    dnsEvents: number;
    dnsKernelDrops: number;
    evicted: number;
  };
  /** Where the JS thread's busy time goes at idle (the profiled window after the measured phases; idle samples left out). */
  idleProfile?: ProfileSummary;
  /** Every figure by a flat key (summarized over runs by bench/run.ts). */
  figures: Record<string, number>;
}

const o = workerOptions<FootprintOptions>();
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MiB = 1048576;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- /proc
interface Task { label: string; cpu: number; vol: number; invol: number }

/** Every thread of pid: CPU seconds, context switches, and a label (its comm; "main thread (JS)" for the main thread). */
function tasks(pid: number): Map<number, Task> {
  const out = new Map<number, Task>();
  for (const t of procThreads(pid)) {
    // the addon names its consumer thread ct-consumer (before that it inherited MainThread)
    const label = t.tid === pid ? 'main thread (JS)' : t.comm === 'ct-consumer' || t.comm === 'MainThread' ? 'ct-consumer (capture consumer)' : t.comm;
    out.set(t.tid, { label, cpu: t.cpuS, vol: t.voluntary, invol: t.nonvoluntary });
  }
  return out;
}

function threadFigures(a: Map<number, Task>, b: Map<number, Task>, seconds: number): Record<string, ThreadFigure> {
  const out: Record<string, ThreadFigure> = {};
  for (const [tid, t] of b) {
    const p = a.get(tid) ?? { cpu: 0, vol: 0, invol: 0 };
    const g = (out[t.label] ??= { threads: 0, cores: 0, wakeupsPerS: 0, voluntaryPerS: 0, nonvoluntaryPerS: 0 });
    g.threads++;
    g.cores += (t.cpu - p.cpu) / seconds;
    g.voluntaryPerS += (t.vol - p.vol) / seconds;
    g.nonvoluntaryPerS += (t.invol - p.invol) / seconds;
    g.wakeupsPerS = g.voluntaryPerS + g.nonvoluntaryPerS;
  }
  return out;
}

const LAUNCHER = readFileSync(path.join(ROOT, 'packaging', 'deb', 'conntrail.sh'), 'utf8');

/** The Node flags the package's launcher (/usr/bin/conntrail) runs the app with: what ships is what is measured. */
function launcherNodeFlags(): string[] {
  const m = /^exec \S+\/node((?: --\S+)*) \S+\/cli\.js "\$@"$/m.exec(LAUNCHER);
  if (!m) throw new Error('packaging/deb/conntrail.sh: no "exec .../node [--flags] .../cli.js" line');
  return m[1]!.trim().split(/\s+/).filter(Boolean);
}

/** The variables the launcher sets unless already set (`export NAME="${NAME:-value}"`), as the app gets them. */
function launcherEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of LAUNCHER.matchAll(/^export (\w+)="\$\{(\w+):-([^}"]*)\}"$/gm)) {
    if (m[1] === m[2]) out[m[1]!] = process.env[m[1]!] ?? m[3]!;
  }
  return out;
}

function rss(pid: number): { rssMiB: number; rssAnonMiB: number; rssFileMiB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) / 1024;
  return { rssMiB: kb('VmRSS'), rssAnonMiB: kb('RssAnon'), rssFileMiB: kb('RssFile') };
}

// ---------------------------------------------------------------- conntrail
const dir = mkdtempSync(path.join(os.tmpdir(), 'conntrail-footprint-'));
chmodSync(dir, 0o755); // conntrail leaves root after attaching: the heap file must stay writable to it
const heapFile = path.join(dir, 'heap.jsonl');
writeFileSync(heapFile, '');
chmodSync(heapFile, 0o666);
const profileFile = path.join(dir, 'idle.cpuprofile');
writeFileSync(profileFile, '');
chmodSync(profileFile, 0o666);
const port = await freePort();
const cfg = benchConfig();
const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CONNTRAIL_')));
Object.assign(env, launcherEnv(), {
  CONNTRAIL_KAFKA_BROKERS: cfg.kafka.brokers.join(','),
  CONNTRAIL_REGISTRY_URL: cfg.registry.url,
  CONNTRAIL_KAFKA_TOPIC: o.topic,
  CONNTRAIL_TELEMETRY_PROMETHEUS_PORT: String(port),
  BENCH_HEAP_FILE: heapFile,
  ...(o.profile ? { BENCH_CPU_PROFILE_FILE: profileFile } : {}),
});
let log = '';
const t0 = performance.now();
const cli = await buildAppJs();
const child: ChildProcess = spawn(process.execPath, [...launcherNodeFlags(), '--import', pathToFileURL(path.join(ROOT, 'bench', 'tools', 'heap-probe.js')).href, cli, 'run'],
  { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
const onOut = (c: Buffer): void => { log += c.toString(); if (log.length > 1 << 20) log = log.slice(-(1 << 19)); };
child.stdout!.on('data', onOut);
child.stderr!.on('data', onOut);
let exited = false;
const exit = new Promise<void>((resolve) => child.on('exit', () => { exited = true; resolve(); }));
const pid = child.pid!;

/** SIGINT (conntrail flushes, shutdown.flushTimeoutMs 10 s by default, and detaches), SIGKILL after 30 s. */
async function stopConntrail(): Promise<void> {
  if (exited) return;
  child.kill('SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const killed = await Promise.race([exit.then(() => false), new Promise<boolean>((r) => { timer = setTimeout(() => r(true), 30_000); })]);
  clearTimeout(timer);
  if (killed) {
    note(`footprint: conntrail did not stop within 30 s of SIGINT: SIGKILL; its last output:\n${log.trim().split('\n').slice(-6).join('\n')}`);
    child.kill('SIGKILL');
    await exit;
  }
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => { void stopConntrail().finally(() => process.exit(1)); });
}

async function metrics(): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}
/** Sum of a metric over its series whose labels include `match`. */
function metric(m: Map<string, number>, name: string, match = ''): number {
  let sum = 0;
  for (const [k, v] of m) if ((k === name || k.startsWith(name + '{')) && k.includes(match)) sum += v;
  return sum;
}

/** The preload's complete lines so far. */
function heapLines(): string[] {
  const text = readFileSync(heapFile, 'utf8');
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean);
}
/** SIGUSR2 to the preload; its next line: the heap now and after a full GC. */
async function heap(): Promise<HeapFigures | null> {
  const seen = heapLines().length;
  child.kill('SIGUSR2');
  const end = performance.now() + 5000;
  while (performance.now() < end) {
    const lines = heapLines();
    if (lines.length > seen) {
      const last = JSON.parse(lines.at(-1)!) as { before: { mem: NodeJS.MemoryUsage; heap: { total_physical_size: number } }; afterGc: { mem: NodeJS.MemoryUsage } };
      const b = last.before.mem;
      const a = last.afterGc.mem;
      return {
        heapUsedMiB: b.heapUsed / MiB, heapTotalMiB: b.heapTotal / MiB, externalMiB: b.external / MiB, arrayBuffersMiB: b.arrayBuffers / MiB,
        liveHeapUsedMiB: a.heapUsed / MiB, liveHeapTotalMiB: a.heapTotal / MiB, liveExternalMiB: a.external / MiB,
        physicalMiB: last.before.heap.total_physical_size / MiB,
      };
    }
    await sleep(50);
  }
  note('footprint: no heap line from the preload within 5 s');
  return null;
}

/** RSS now (read first: the heap probe's GC moves it), then the heap. */
async function mem(): Promise<MemFigures> {
  const r = rss(pid);
  return { ...r, heap: await heap() };
}

async function phase(rate: number, seconds: number, tailMs: number): Promise<PhaseFigures & { published: number; kernelDrops: number }> {
  const m0 = await metrics();
  const mc0 = machineCpu();
  const self0 = cpuSeconds();
  const broker0 = o.brokerPid ? procCpuRss(o.brokerPid)?.cpu ?? 0 : 0;
  const cpu0 = procCpuRss(pid)!.cpu;
  const th0 = tasks(pid);
  const w0 = performance.now();
  let peak = rss(pid).rssMiB;
  const sampler = setInterval(() => { const r = rss(pid).rssMiB; if (r > peak) peak = r; }, 250);
  const g = startGenerator(rate, seconds);
  const gcpu = followProcCpu(g.pid);
  const gen = await g.done;
  const genCpu = gcpu.stop();
  await sleep(tailMs);
  const th1 = tasks(pid);
  const cpu1 = procCpuRss(pid)!.cpu;
  const win = (performance.now() - w0) / 1000;
  const busy = machineCpu().busy - mc0.busy;
  const brokerCpu = o.brokerPid ? (procCpuRss(o.brokerPid)?.cpu ?? 0) - broker0 : 0;
  const selfCpu = cpuSeconds() - self0;
  clearInterval(sampler);
  const r = rss(pid).rssMiB;
  if (r > peak) peak = r;
  const m = await mem();
  const m1 = await metrics();
  const threads = threadFigures(th0, th1, win);
  const connectEvents = metric(m1, 'conntrail_capture_events_total', 'kind="connect"') - metric(m0, 'conntrail_capture_events_total', 'kind="connect"');
  return {
    seconds: win, cores: (cpu1 - cpu0) / win,
    wakeupsPerS: Object.values(threads).reduce((s, t) => s + t.wakeupsPerS, 0),
    threads, mem: m, peakRssMiB: peak,
    generated: gen.connects, generatedRate: gen.rate, connectEvents, eventsPerS: connectEvents / gen.seconds,
    generatorCores: genCpu / win, brokerCores: brokerCpu / win,
    otherCores: Math.max(0, (busy - (cpu1 - cpu0) - genCpu - brokerCpu - selfCpu) / win),
    published: metric(m1, 'conntrail_publish_records_total') - metric(m0, 'conntrail_publish_records_total'),
    kernelDrops: metric(m1, 'conntrail_capture_kernel_drops_total', 'reason="connect_ring_full"') - metric(m0, 'conntrail_capture_kernel_drops_total', 'reason="connect_ring_full"'),
  };
}

function flood(count: number, start: number, addresses: number): Promise<{ sent: number; seconds: number; rate: number }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(ROOT, 'bench', 'tools', 'dns-flood.ts'), '--count', String(count), '--start', String(start), '--addresses', String(addresses)], { timeout: 300_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`dns-flood: ${err.message}\n${stderr}`));
      const m = /sent=(\d+) received=\d+ seconds=([\d.]+) rate=(\d+)/.exec(stdout);
      if (!m) return reject(new Error(`dns-flood: unexpected output ${JSON.stringify(stdout)}`));
      resolve({ sent: Number(m[1]), seconds: Number(m[2]), rate: Number(m[3]) });
    });
  });
}

/** Floods, then waits until conntrail has read every reply (or 60 s), then idles and measures. */
async function fill(start: number, addresses: number, cached: (names: number, addrs: number) => boolean): Promise<{ point: CachePoint; sent: number; seconds: number }> {
  const before = metric(await metrics(), 'conntrail_capture_events_total', 'kind="dns"');
  const f = await flood(o.floodReplies, start, addresses);
  const end = performance.now() + 60_000;
  let m = await metrics();
  while (performance.now() < end) {
    const read = metric(m, 'conntrail_capture_events_total', 'kind="dns"') - before + metric(m, 'conntrail_capture_kernel_drops_total', 'reason="dns_ring_full"');
    if (read >= f.sent && cached(metric(m, 'conntrail_dns_cache_size'), metric(m, 'conntrail_dns_cache_addresses'))) break;
    await sleep(250);
    m = await metrics();
  }
  const rssAfterFloodMiB = rss(pid).rssMiB;
  await sleep(o.floodIdleSeconds * 1000);
  const mm = await mem();
  m = await metrics();
  return { point: { names: metric(m, 'conntrail_dns_cache_size'), addresses: metric(m, 'conntrail_dns_cache_addresses'), mem: mm, rssAfterFloodMiB }, sent: f.sent, seconds: f.seconds };
}

function flatten(prefix: string, x: unknown, out: Record<string, number>): void {
  if (typeof x === 'number') out[prefix] = x;
  else if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) flatten(prefix ? `${prefix}.${k}` : k, v, out);
}

try {
  // ready: /readyz answers 200
  for (;;) {
    if (exited) throw new Error('conntrail exited before it was ready');
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (performance.now() - t0 > 90_000) throw new Error('conntrail not ready within 90 s');
    await sleep(200);
  }
  const startupS = (performance.now() - t0) / 1000;
  note(`footprint: conntrail pid ${pid} ready in ${startupS.toFixed(1)} s (port ${port}); idle ${o.idleSeconds} s at 1 connect/s`);
  await sleep(o.settleSeconds * 1000);

  const idle = await phase(1, o.idleSeconds, 0);
  note(`footprint: idle ${idle.cores.toFixed(4)} cores, ${Math.round(idle.wakeupsPerS)} wake-ups/s, RSS ${idle.mem.rssMiB.toFixed(0)} MiB; ${o.loadRate}/s for ${o.loadSeconds} s`);
  const loadRaw = await phase(o.loadRate, o.loadSeconds, 1000);
  const load = { ...loadRaw, rate: o.loadRate, coresPer10kEvents: loadRaw.eventsPerS > 0 ? loadRaw.cores / (loadRaw.eventsPerS / 10_000) : NaN };
  note(`footprint: ${o.loadRate}/s ${load.cores.toFixed(3)} cores (${load.coresPer10kEvents.toFixed(3)} per 10k events/s), peak RSS ${load.peakRssMiB.toFixed(0)} MiB; DNS floods of ${o.floodReplies} replies`);

  await sleep(o.settleSeconds * 1000);
  const dns0 = await metrics();
  const empty: CachePoint = { names: metric(dns0, 'conntrail_dns_cache_size'), addresses: metric(dns0, 'conntrail_dns_cache_addresses'), mem: await mem() };
  const a = await fill(0, 1, (n) => n >= 65_536);
  const b = await fill(10_000_000, 2, (n, ad) => n >= 65_536 && ad >= 65_536);
  const dns1 = await metrics();
  const dnsEvents = metric(dns1, 'conntrail_capture_events_total', 'kind="dns"') - metric(dns0, 'conntrail_capture_events_total', 'kind="dns"');
  note(`footprint: DNS cache ${empty.names}/${empty.addresses} -> ${a.point.names}/${a.point.addresses} -> ${b.point.names}/${b.point.addresses} names/addresses; RSS ${empty.mem.rssMiB.toFixed(0)} -> ${a.point.mem.rssMiB.toFixed(0)} -> ${b.point.mem.rssMiB.toFixed(0)} MiB`);

  // growth from empty: dn names * perName + da addresses * perAddress, solved over the two fills
  const split = (get: (p: CachePoint) => number): { perName: number; perAddress: number } => {
    const [n1, a1, g1] = [a.point.names - empty.names, a.point.addresses - empty.addresses, get(a.point) - get(empty)];
    const [n2, a2, g2] = [b.point.names - empty.names, b.point.addresses - empty.addresses, get(b.point) - get(empty)];
    const det = n1 * a2 - n2 * a1;
    if (Math.abs(det) < 1) return { perName: NaN, perAddress: NaN };
    return { perName: ((g1 * a2 - g2 * a1) / det) * MiB, perAddress: ((n1 * g2 - n2 * g1) / det) * MiB };
  };
  const rssOf = (p: CachePoint): number => p.mem.rssMiB;
  const liveOf = (p: CachePoint): number => (p.mem.heap ? p.mem.heap.liveHeapUsedMiB + p.mem.heap.liveExternalMiB : NaN);
  const fullNames = b.point.names - empty.names;
  const fullAddrs = b.point.addresses - empty.addresses;
  const growth = { rssMiB: rssOf(b.point) - rssOf(empty), rssAnonMiB: b.point.mem.rssAnonMiB - empty.mem.rssAnonMiB, liveHeapMiB: liveOf(b.point) - liveOf(empty) };
  const result: Omit<FootprintResult, 'figures'> = {
    port, startupS, idle, load,
    dns: {
      empty, names: a.point, full: b.point, repliesSent: a.sent + b.sent, floodRate: (a.sent + b.sent) / (a.seconds + b.seconds), dnsEvents,
      dnsKernelDrops: metric(dns1, 'conntrail_capture_kernel_drops_total', 'reason="dns_ring_full"') - metric(dns0, 'conntrail_capture_kernel_drops_total', 'reason="dns_ring_full"'),
      evicted: 2 * (a.sent + b.sent) - (b.point.names - empty.names),
    },
  };
  if (o.profile) {
    // not in the figures above: the sampler wakes the thread it samples
    await sleep(o.settleSeconds * 1000);
    child.kill('SIGURG');
    await sleep(500);
    await startGenerator(1, o.profileSeconds ?? 30).done;
    child.kill('SIGURG');
    const end = performance.now() + 10_000;
    while (statSync(profileFile).size === 0 && performance.now() < end) await sleep(100);
    const raw = readFileSync(profileFile, 'utf8');
    if (raw) {
      writeFileSync(o.profile, raw);
      result.idleProfile = summarizeProfile(JSON.parse(raw) as CpuProfile, 25, true);
    } else note('footprint: no idle profile from the preload within 10 s');
  }
  const figures: Record<string, number> = {};
  flatten('', { startupS, idle, load: { ...load, threads: load.threads } }, figures);
  flatten('dns', {
    emptyNames: empty.names, emptyAddresses: empty.addresses, namesNames: a.point.names, namesAddresses: a.point.addresses, fullNames: b.point.names, fullAddresses: b.point.addresses,
    emptyRssMiB: empty.mem.rssMiB, namesRssMiB: a.point.mem.rssMiB, fullRssMiB: b.point.mem.rssMiB,
    namesRssAfterFloodMiB: a.point.rssAfterFloodMiB ?? NaN, fullRssAfterFloodMiB: b.point.rssAfterFloodMiB ?? NaN,
    emptyLiveHeapMiB: liveOf(empty), namesLiveHeapMiB: liveOf(a.point), fullLiveHeapMiB: liveOf(b.point),
    emptyHeapUsedMiB: empty.mem.heap?.heapUsedMiB ?? NaN, namesHeapUsedMiB: a.point.mem.heap?.heapUsedMiB ?? NaN, fullHeapUsedMiB: b.point.mem.heap?.heapUsedMiB ?? NaN,
    emptyHeapTotalMiB: empty.mem.heap?.heapTotalMiB ?? NaN, namesHeapTotalMiB: a.point.mem.heap?.heapTotalMiB ?? NaN, fullHeapTotalMiB: b.point.mem.heap?.heapTotalMiB ?? NaN,
    emptyRssAnonMiB: empty.mem.rssAnonMiB, namesRssAnonMiB: a.point.mem.rssAnonMiB, fullRssAnonMiB: b.point.mem.rssAnonMiB,
    emptyRssFileMiB: empty.mem.rssFileMiB, namesRssFileMiB: a.point.mem.rssFileMiB, fullRssFileMiB: b.point.mem.rssFileMiB,
    growthRssMiB: growth.rssMiB, growthRssAnonMiB: growth.rssAnonMiB, growthLiveHeapMiB: growth.liveHeapMiB,
    // the whole growth divided by each count (each an upper bound for one kind)
    rssBytesPerNameAll: (growth.rssMiB * MiB) / fullNames, rssBytesPerAddressAll: (growth.rssMiB * MiB) / fullAddrs,
    heapBytesPerNameAll: (growth.liveHeapMiB * MiB) / fullNames, heapBytesPerAddressAll: (growth.liveHeapMiB * MiB) / fullAddrs,
    rssSplit: split(rssOf), heapSplit: split(liveOf),
    repliesSent: result.dns.repliesSent, floodRate: result.dns.floodRate, dnsEvents, dnsKernelDrops: result.dns.dnsKernelDrops,
  }, figures);
  emitResult({ ...result, figures } satisfies FootprintResult);
} catch (err) {
  note(`footprint: conntrail's last output:\n${log.trim().split('\n').slice(-10).join('\n')}`);
  throw err;
} finally {
  await stopConntrail();
  rmSync(dir, { recursive: true, force: true });
}
