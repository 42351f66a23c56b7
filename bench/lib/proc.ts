// CPU and memory of this process (and of others, through /proc), and what
// machine the figures come from.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** User + system CPU seconds of this process so far (every thread, the native consumer's included). */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Samples this process's RSS every `intervalMs`; stop() returns the peak, in MiB. */
export function rssSampler(intervalMs = 100): { stop(): { peakMiB: number; samples: number } } {
  let peak = process.memoryUsage.rss();
  let samples = 1;
  const timer = setInterval(() => {
    const r = process.memoryUsage.rss();
    if (r > peak) peak = r;
    samples++;
  }, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      const r = process.memoryUsage.rss();
      if (r > peak) peak = r;
      return { peakMiB: peak / 1048576, samples };
    },
  };
}

/** Peak RSS of this process since it started (getrusage maxrss), MiB. */
export function maxRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

const TICKS = 100; // USER_HZ

/** utime + stime of another process, seconds (from /proc/<pid>/stat), and its RSS in MiB; null when gone. */
export function procCpuRss(pid: number): { cpu: number; rssMiB: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(f[11]) + Number(f[12])) / TICKS;
    const rssPages = Number(f[21]);
    return { cpu, rssMiB: (rssPages * 4096) / 1048576 };
  } catch {
    return null;
  }
}

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  kafka: string;
  registry: string;
  kafkajs: string;
  avsc: string;
  loadAverage: number[];
  date: string;
}

function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The stack's own status line names the running Kafka and registry versions. */
export function stackVersions(stackScript: string): { kafka: string; registry: string } {
  let out = '';
  try {
    out = execFileSync('bash', [stackScript, 'status'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? '');
  }
  return {
    kafka: /\(Kafka ([^)]+)\)/.exec(out)?.[1] ?? 'unknown',
    registry: /\((Apicurio [^)]+)\)/.exec(out)?.[1] ?? 'unknown',
  };
}

export function machineInfo(stackScript: string): MachineInfo {
  const v = stackVersions(stackScript);
  return {
    cores: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    kafka: v.kafka,
    registry: v.registry,
    kafkajs: pkgVersion('kafkajs'),
    avsc: pkgVersion('avsc'),
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString(),
  };
}

/** Busy and total CPU time of the whole machine so far, seconds (first line of /proc/stat). */
export function machineCpu(): { busy: number; total: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: (total - idle) / TICKS, total: total / TICKS };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/** Follows another process's CPU seconds (sampled every `intervalMs`, so the last value survives its exit). */
export function followProcCpu(pid: number, intervalMs = 50): { stop(): number } {
  const first = procCpuRss(pid)?.cpu ?? 0;
  let last = first;
  const timer = setInterval(() => {
    const c = procCpuRss(pid);
    if (c) last = c.cpu;
  }, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      const c = procCpuRss(pid);
      if (c) last = c.cpu;
      return last - first;
    },
  };
}

/** One thread of a process, from /proc/<pid>/task/<tid>/{stat,status}. */
export interface ProcThread {
  tid: number;
  comm: string;
  /** utime + stime, seconds. */
  cpuS: number;
  /** Context switches: the thread slept and was woken (voluntary), or was preempted. */
  voluntary: number;
  nonvoluntary: number;
}

/** Every thread of pid now (threads that end while being read are left out). */
export function procThreads(pid: number): ProcThread[] {
  const out: ProcThread[] = [];
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const num = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
      out.push({ tid: Number(tid), comm, cpuS: (Number(f[11]) + Number(f[12])) / TICKS, voluntary: num('voluntary_ctxt_switches'), nonvoluntary: num('nonvoluntary_ctxt_switches') });
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** CPU seconds of each thread of this process, grouped: the JS thread, V8's workers (GC, compiler), libuv's pool, the rest (the capture addon's consumer thread...). */
export function threadCpu(): Record<string, number> {
  const out: Record<string, number> = {};
  const self = process.pid;
  for (const t of procThreads(self)) {
    const group = t.tid === self ? 'JS thread' : t.comm === 'V8Worker' ? 'V8 workers (GC, compiler)' : t.comm === 'libuv-worker' ? 'libuv pool' : 'other threads (capture consumer...)';
    out[group] = (out[group] ?? 0) + t.cpuS;
  }
  return out;
}

/** Cores per thread group between two threadCpu() snapshots over `seconds`. */
export function threadCores(before: Record<string, number>, after: Record<string, number>, seconds: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) out[k] = Math.max(0, (v - (before[k] ?? 0)) / seconds);
  return out;
}
