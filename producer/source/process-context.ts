// Process context for connect events: ppid, executable path and container id
// from /proc/<pid>, cached by (pid, process start time) in a bounded LRU.
// A process that has exited (or whose pid was reused) yields a partial context
// (exited: true, unknown fields null), never an error.
import { readFileSync, readlinkSync } from 'node:fs';

export type ContainerRuntime = 'docker' | 'containerd' | 'cri-o' | 'podman' | 'kubernetes';

export interface ContainerRef {
  id: string;
  runtime: ContainerRuntime;
}

export interface ProcessContext {
  pid: number;
  ppid: number | null;
  exe: string | null;
  containerId: string | null;
  containerRuntime: ContainerRuntime | null;
  /** /proc/<pid> was gone (or belonged to a newer process) when looked up. */
  exited: boolean;
}

/** The fields of /proc/<pid>/stat conntrail uses. */
export interface ProcStat {
  ppid: number;
  /** Field 22: start time in clock ticks since boot. */
  startTicks: bigint;
}

/** Parses /proc/<pid>/stat; comm may hold spaces and parentheses, so fields are counted after the last ')'. */
export function parseProcStat(text: string): ProcStat | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state): ppid is field 4, starttime field 22
  const ppid = Number(f[1]);
  const start = f[19];
  if (!Number.isInteger(ppid) || start === undefined || !/^\d+$/.test(start)) return null;
  return { ppid, startTicks: BigInt(start) };
}

const HEX64 = '([0-9a-f]{64})';
// Tried in order on each cgroup path of /proc/<pid>/cgroup.
const CONTAINER_PATTERNS: readonly [RegExp, ContainerRuntime][] = [
  [new RegExp(`(?:^|/)docker-${HEX64}\\.scope(?:/|$)`), 'docker'],
  [new RegExp(`(?:^|/)docker/${HEX64}(?:/|$)`), 'docker'],
  [new RegExp(`(?:^|/)cri-containerd-${HEX64}\\.scope(?:/|$)`), 'containerd'],
  [new RegExp(`(?:^|/)crio-${HEX64}\\.scope(?:/|$)`), 'cri-o'],
  [new RegExp(`(?:^|/)crio/${HEX64}(?:/|$)`), 'cri-o'],
  [new RegExp(`(?:^|/)libpod-${HEX64}\\.scope(?:/|$)`), 'podman'],
  [new RegExp(`(?:^|/)libpod_parent/libpod-${HEX64}(?:/|$)`), 'podman'],
  [new RegExp(`(?:^|/)kubepods[^/]*(?:/[^/]+)*?/${HEX64}(?:/|$)`), 'kubernetes'],
];

/** Container id from the text of /proc/<pid>/cgroup (cgroup v1 or v2), or null for a host process. */
export function parseContainerId(cgroupText: string): ContainerRef | null {
  for (const line of cgroupText.split('\n')) {
    // hierarchy-ID:controller-list:path (the path may itself contain ':')
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0) continue;
    const path = line.slice(second + 1);
    for (const [re, runtime] of CONTAINER_PATTERNS) {
      const m = re.exec(path);
      if (m?.[1]) return { id: m[1], runtime };
    }
  }
  return null;
}

export interface ProcessContextOptions {
  /** Entries kept (least recently used go first). Default 8192. */
  maxEntries?: number;
  /** Default /proc (tests point it at a fake tree). */
  procRoot?: string;
  /** USER_HZ: /proc start times are in these ticks. Default 100. */
  clockTicksPerSecond?: number;
}

export interface ProcessContextStats {
  hits: number;
  misses: number;
  exited: number;
  evictions: number;
  size: number;
}

/** ppid, exe and container id as producer/transform/enrich.ts's ProcessContextFn returns them. */
export interface EnrichProcessContext {
  ppid: number | null;
  exe: string | null;
  containerId: string | null;
}

export class ProcessContextCache {
  readonly #max: number;
  readonly #proc: string;
  readonly #nsPerTick: bigint;
  readonly #cache = new Map<string, ProcessContext>();
  /** pid -> key of its latest lookup, for lookups without a start time. */
  readonly #latest = new Map<number, string>();
  hits = 0;
  misses = 0;
  exited = 0;
  evictions = 0;

  constructor(opts: ProcessContextOptions = {}) {
    this.#max = opts.maxEntries ?? 8192;
    this.#proc = opts.procRoot ?? '/proc';
    this.#nsPerTick = BigInt(Math.round(1e9 / (opts.clockTicksPerSecond ?? 100)));
  }

  /**
   * Context of process `pid` that started at `procStartNs` (CLOCK_BOOTTIME ns,
   * from the connect record; 0n if unknown). `kernelPpid` (from the record) is
   * used when /proc no longer has the process.
   */
  get(pid: number, procStartNs = 0n, kernelPpid = 0): ProcessContext {
    const key = procStartNs > 0n ? `${pid}:${procStartNs / this.#nsPerTick}` : this.#latest.get(pid);
    if (key !== undefined) {
      const hit = this.#cache.get(key);
      if (hit) {
        this.hits++;
        this.#cache.delete(key); // LRU: move to the back
        this.#cache.set(key, hit);
        return hit;
      }
    }
    this.misses++;
    const ctx = this.#read(pid, key === undefined ? undefined : procStartNs / this.#nsPerTick, kernelPpid);
    const k = key ?? (ctx.stat ? `${pid}:${ctx.stat.startTicks}` : undefined);
    if (k !== undefined) this.#store(pid, k, ctx.context);
    if (ctx.context.exited) this.exited++;
    return ctx.context;
  }

  /** For lookups that only know the pid (the enricher's ProcessContextFn shape). */
  getByPid(pid: number): ProcessContext {
    const key = this.#latest.get(pid);
    const hit = key === undefined ? undefined : this.#cache.get(key);
    if (hit) {
      this.hits++;
      return hit;
    }
    return this.get(pid);
  }

  /** An adapter with the shape of producer/transform/enrich.ts's ProcessContextFn. */
  readonly contextFn = (pid: number, _ktimeNs: bigint): EnrichProcessContext => {
    const c = this.getByPid(pid);
    return { ppid: c.ppid, exe: c.exe, containerId: c.containerId };
  };

  stats(): ProcessContextStats {
    return { hits: this.hits, misses: this.misses, exited: this.exited, evictions: this.evictions, size: this.#cache.size };
  }

  #store(pid: number, key: string, ctx: ProcessContext): void {
    this.#cache.set(key, ctx);
    this.#latest.set(pid, key);
    while (this.#cache.size > this.#max) {
      const oldest = this.#cache.keys().next().value as string;
      this.#cache.delete(oldest);
      const oldPid = Number(oldest.slice(0, oldest.indexOf(':')));
      if (this.#latest.get(oldPid) === oldest) this.#latest.delete(oldPid);
      this.evictions++;
    }
  }

  #read(pid: number, wantTicks: bigint | undefined, kernelPpid: number): { context: ProcessContext; stat: ProcStat | null } {
    const dir = `${this.#proc}/${pid}`;
    const partial: ProcessContext = {
      pid, ppid: kernelPpid > 0 ? kernelPpid : null, exe: null, containerId: null, containerRuntime: null, exited: true,
    };
    const stat = parseProcStat(readOr(`${dir}/stat`));
    // gone, or the pid now belongs to a process that started later
    if (!stat || (wantTicks !== undefined && stat.startTicks !== wantTicks)) return { context: partial, stat: null };
    let exe: string | null = null;
    try {
      exe = readlinkSync(`${dir}/exe`);
    } catch {
      exe = null; // kernel threads, zombies, races with exit
    }
    const container = parseContainerId(readOr(`${dir}/cgroup`));
    return {
      context: {
        pid,
        ppid: stat.ppid,
        exe,
        containerId: container?.id ?? null,
        containerRuntime: container?.runtime ?? null,
        exited: false,
      },
      stat,
    };
  }
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
