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

/** The fields of /proc/<pid>/stat conntrail uses (read once per process: a bigint is fine here). */
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

/** One cached process: an LRU list node, chained to the other entries of its pid (newest first). */
class Entry {
  readonly pid: number;
  /** Start time in clock ticks since boot. */
  readonly ticks: number;
  context: ProcessContext;
  /** The newest entry stored for its pid: what a lookup without a start time returns. */
  latest = true;
  prev: Entry | null = null;
  next: Entry | null = null;
  /** Older entry of the same pid (a reused pid). */
  older: Entry | null = null;
  constructor(pid: number, ticks: number, context: ProcessContext) {
    this.pid = pid;
    this.ticks = ticks;
    this.context = context;
  }
}

export class ProcessContextCache {
  readonly #max: number;
  readonly #proc: string;
  readonly #nsPerTick: number;
  /** pid -> its newest entry (older ones chained through Entry.older). No string key per lookup. */
  readonly #byPid = new Map<number, Entry>();
  /** LRU list: head = most recently used. */
  #head: Entry | null = null;
  #tail: Entry | null = null;
  #size = 0;
  hits = 0;
  misses = 0;
  exited = 0;
  evictions = 0;

  constructor(opts: ProcessContextOptions = {}) {
    this.#max = opts.maxEntries ?? 8192;
    this.#proc = opts.procRoot ?? '/proc';
    this.#nsPerTick = Math.round(1e9 / (opts.clockTicksPerSecond ?? 100));
  }

  /**
   * Context of process `pid` that started at `procStartNs` (CLOCK_BOOTTIME ns,
   * from the connect record; 0 if unknown). `kernelPpid` (from the record) is
   * used when /proc no longer has the process.
   */
  get(pid: number, procStartNs: number | bigint = 0, kernelPpid = 0): ProcessContext {
    const startNs = typeof procStartNs === 'bigint' ? Number(procStartNs) : procStartNs;
    const first = this.#byPid.get(pid);
    let wantTicks = -1;
    if (startNs > 0) {
      wantTicks = this.#ticks(startNs);
      for (let e: Entry | null = first ?? null; e !== null; e = e.older) {
        if (e.ticks === wantTicks) return this.#hit(e);
      }
    } else if (first !== undefined && first.latest) {
      return this.#hit(first);
    }
    this.misses++;
    const ctx = this.#read(pid, startNs > 0 ? startNs : undefined, kernelPpid);
    const ticks = wantTicks >= 0 ? wantTicks : ctx.stat ? Number(ctx.stat.startTicks) : -1;
    if (ticks >= 0) this.#store(pid, ticks, ctx.context);
    if (ctx.context.exited) this.exited++;
    return ctx.context;
  }

  /** For lookups that only know the pid (the enricher's ProcessContextFn shape). */
  getByPid(pid: number): ProcessContext {
    return this.get(pid);
  }

  /** An adapter with the shape of producer/transform/enrich.ts's ProcessContextFn. */
  readonly contextFn = (pid: number, _ktimeNs?: number | bigint): EnrichProcessContext => {
    const c = this.getByPid(pid);
    return { ppid: c.ppid, exe: c.exe, containerId: c.containerId };
  };

  stats(): ProcessContextStats {
    return { hits: this.hits, misses: this.misses, exited: this.exited, evictions: this.evictions, size: this.#size };
  }

  /** Clock ticks of a boot-clock ns count: floor(ns / nsPerTick), exact for ns below 2^53. */
  #ticks(ns: number): number {
    const d = this.#nsPerTick;
    return (ns - (ns % d)) / d;
  }

  /** Does /proc's start time (ticks) fit the record's `startNs`? Above 2^53 ns the number is off by up to one ulp. */
  #sameStart(statTicks: bigint, startNs: number): boolean {
    const t = Number(statTicks);
    if (t === this.#ticks(startNs)) return true;
    if (startNs <= Number.MAX_SAFE_INTEGER) return false;
    const ulp = 2 ** (Math.floor(Math.log2(startNs)) - 52);
    return t >= this.#ticks(startNs - ulp) && t <= this.#ticks(startNs + ulp);
  }

  #hit(e: Entry): ProcessContext {
    this.hits++;
    if (this.#head !== e) {
      this.#unlinkLru(e);
      this.#pushLru(e);
    }
    return e.context;
  }

  #store(pid: number, ticks: number, ctx: ProcessContext): void {
    const first = this.#byPid.get(pid);
    // Same process stored already (e.g. found by start time after a lookup by pid): replace it.
    if (first !== undefined) this.#remove(first, ticks);
    const e = new Entry(pid, ticks, ctx);
    const head = this.#byPid.get(pid);
    if (head !== undefined) {
      head.latest = false;
      e.older = head;
    }
    this.#byPid.set(pid, e);
    this.#pushLru(e);
    while (this.#size > this.#max) {
      this.#drop(this.#tail!);
      this.evictions++;
    }
  }

  /** Drops the entry of `first`'s pid with `ticks`, if any. */
  #remove(first: Entry, ticks: number): void {
    for (let e: Entry | null = first; e !== null; e = e.older) {
      if (e.ticks === ticks) {
        this.#drop(e);
        return;
      }
    }
  }

  /** Unlinks `e` from the LRU list and from its pid's chain. */
  #drop(e: Entry): void {
    this.#unlinkLru(e);
    const first = this.#byPid.get(e.pid)!;
    if (first === e) {
      if (e.older === null) this.#byPid.delete(e.pid);
      else this.#byPid.set(e.pid, e.older); // its `latest` stays false: the newest process of the pid is not known
    } else {
      let p = first;
      while (p.older !== e) p = p.older!;
      p.older = e.older;
    }
    e.older = null;
  }

  #pushLru(e: Entry): void {
    e.prev = null;
    e.next = this.#head;
    if (this.#head !== null) this.#head.prev = e;
    this.#head = e;
    if (this.#tail === null) this.#tail = e;
    this.#size++;
  }

  #unlinkLru(e: Entry): void {
    if (e.prev !== null) e.prev.next = e.next;
    else this.#head = e.next;
    if (e.next !== null) e.next.prev = e.prev;
    else this.#tail = e.prev;
    e.prev = e.next = null;
    this.#size--;
  }

  #read(pid: number, startNs: number | undefined, kernelPpid: number): { context: ProcessContext; stat: ProcStat | null } {
    const dir = `${this.#proc}/${pid}`;
    const partial: ProcessContext = {
      pid, ppid: kernelPpid > 0 ? kernelPpid : null, exe: null, containerId: null, containerRuntime: null, exited: true,
    };
    const stat = parseProcStat(readOr(`${dir}/stat`));
    // gone, or the pid now belongs to a process that started later
    if (!stat || (startNs !== undefined && !this.#sameStart(stat.startTicks, startNs))) return { context: partial, stat: null };
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
