// Process context for connect events: ppid, executable path, container id,
// argv (bounded), the parent's name and executable and the ancestors'
// executables from /proc/<pid>, and an entity id stable across pid reuse,
// cached by (pid, process start time) in a bounded LRU. A process that has
// exited (or whose pid was reused) yields a partial context (exited: true,
// unknown fields null), never an error.
import { createHash } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import type { ProcessExecEvent } from './types.ts';

export type ContainerRuntime = 'docker' | 'containerd' | 'cri-o' | 'podman' | 'kubernetes';

export interface ContainerRef {
  id: string;
  runtime: ContainerRuntime;
}

/** argv as published: at most maxArgs arguments and maxArgBytes bytes of them (UTF-8). */
export interface ProcessArgs {
  /** The arguments kept, in order (invalid UTF-8 replaced by U+FFFD); frozen: shared by the process's records (the Avro encoder caches their bytes by it). */
  args: readonly string[];
  /** How many arguments the process had. */
  count: number;
  /** Arguments were left out or the last one kept was cut. */
  truncated: boolean;
  /** The kept arguments joined by spaces. */
  commandLine: string;
}

export interface ProcessContext {
  pid: number;
  ppid: number | null;
  /** The task's command name (from /proc/<pid>/stat), null when /proc had the process no longer. */
  comm: string | null;
  exe: string | null;
  containerId: string | null;
  containerRuntime: ContainerRuntime | null;
  /** argv, null when it could not be read (exited, a kernel thread). */
  args: ProcessArgs | null;
  /** Stable per process across pid reuse: a hash of the boot id, pid and start time (null: no start time known). */
  entityId: string | null;
  /** The parent's command name and executable, null when unknown. */
  parentComm: string | null;
  parentExe: string | null;
  /** Executables (else command names) of the ancestors above the parent, nearest first, up to maxAncestors; null when the parent is unknown. Frozen, as args. */
  ancestors: readonly string[] | null;
  /** /proc/<pid> was gone (or belonged to a newer process) when looked up. */
  exited: boolean;
}

/** The fields of /proc/<pid>/stat conntrail uses (read once per process: a bigint is fine here). */
export interface ProcStat {
  comm: string;
  ppid: number;
  /** Field 22: start time in clock ticks since boot. */
  startTicks: bigint;
}

/** Parses /proc/<pid>/stat; comm may hold spaces and parentheses, so fields are counted after the last ')'. */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state): ppid is field 4, starttime field 22
  const ppid = Number(f[1]);
  const start = f[19];
  if (!Number.isInteger(ppid) || start === undefined || !/^\d+$/.test(start)) return null;
  return { comm: text.slice(open + 1, close), ppid, startTicks: BigInt(start) };
}

/**
 * argv from the bytes of /proc/<pid>/cmdline (NUL-separated, usually NUL-ended),
 * bounded: whole arguments while they fit in maxBytes, the first one cut at a
 * character boundary if it alone does not; null for an empty file (a kernel
 * thread, a zombie).
 */
export function parseCmdline(buf: Buffer, maxArgs: number, maxBytes: number): ProcessArgs | null {
  let end = buf.length;
  if (end === 0) return null;
  if (buf[end - 1] === 0) end--;
  const args: string[] = [];
  let count = 0;
  let used = 0;
  let truncated = false;
  for (let start = 0; start <= end;) {
    let nul = buf.indexOf(0, start);
    if (nul < 0 || nul > end) nul = end;
    count++;
    const len = nul - start;
    if (!truncated) {
      if (args.length < maxArgs && used + len <= maxBytes) {
        args.push(buf.toString('utf8', start, nul));
        used += len + 1;
      } else {
        truncated = true;
        if (args.length === 0) args.push(cutUtf8(buf.subarray(start, nul), maxBytes));
      }
    }
    start = nul + 1;
  }
  return { args: Object.freeze(args), count, truncated, commandLine: args.join(' ') };
}

/** The longest prefix of `b` of at most `max` bytes that ends on a UTF-8 character boundary, as text. */
function cutUtf8(b: Buffer, max: number): string {
  let n = Math.min(max, b.length);
  // back off continuation bytes (10xxxxxx) so that no character is split
  while (n > 0 && n < b.length && ((b[n] as number) & 0xc0) === 0x80) n--;
  return b.toString('utf8', 0, n);
}

/** Entity id of a process: base64url of the first 16 bytes of sha256("bootId:pid:startTicks"). */
export function entityIdOf(bootId: string, pid: number, startTicks: number): string {
  return createHash('sha256').update(`${bootId}:${pid}:${startTicks}`).digest().subarray(0, 16).toString('base64url');
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
  /** Arguments of argv kept (enrich.process.maxArgs). Default 64. */
  maxArgs?: number;
  /** Bytes of argv kept (enrich.process.maxArgBytes). Default 2048. */
  maxArgBytes?: number;
  /** Ancestors above the parent listed (enrich.process.maxAncestors). Default 8. */
  maxAncestors?: number;
  /** Kernel boot id, part of the entity id (pids and start times repeat across boots). Default: /proc/sys/kernel/random/boot_id. */
  bootId?: string;
}

export interface ProcessContextStats {
  hits: number;
  misses: number;
  exited: number;
  /** Processes gone, exiting or running another image at their first lookup whose path, argv or parent came from their exec record. */
  fromExec: number;
  evictions: number;
  size: number;
}

/** The context as producer/transform/enrich.ts's ProcessContextFn returns it. */
export type EnrichProcessContext = Pick<ProcessContext, 'ppid' | 'exe' | 'containerId' | 'args' | 'entityId' | 'parentComm' | 'parentExe' | 'ancestors'>;

/** One cached process: an LRU list node, chained to the other entries of its pid (newest first). */
class Entry {
  readonly pid: number;
  /** Start time in clock ticks since boot. */
  readonly ticks: number;
  context: ProcessContext;
  /** The newest entry stored for its pid: what a lookup without a start time returns. */
  latest = true;
  /** Made from this exec record, not looked up yet: its context is built, and /proc read, at the first lookup. */
  exec: ProcessExecEvent | null = null;
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
  readonly #maxArgs: number;
  readonly #maxArgBytes: number;
  readonly #maxAncestors: number;
  readonly #bootId: string;
  /** Nested parent reads in progress (see #lineage). */
  #depth = 0;
  /** pid -> its newest entry (older ones chained through Entry.older). No string key per lookup. */
  readonly #byPid = new Map<number, Entry>();
  /** LRU list: head = most recently used. */
  #head: Entry | null = null;
  #tail: Entry | null = null;
  #size = 0;
  hits = 0;
  misses = 0;
  exited = 0;
  fromExec = 0;
  evictions = 0;

  constructor(opts: ProcessContextOptions = {}) {
    this.#max = opts.maxEntries ?? 8192;
    this.#proc = opts.procRoot ?? '/proc';
    this.#nsPerTick = Math.round(1e9 / (opts.clockTicksPerSecond ?? 100));
    this.#maxArgs = opts.maxArgs ?? 64;
    this.#maxArgBytes = opts.maxArgBytes ?? 2048;
    this.#maxAncestors = opts.maxAncestors ?? 8;
    this.#bootId = opts.bootId ?? readOr('/proc/sys/kernel/random/boot_id').trim();
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
        if (e.ticks === wantTicks) return this.#hit(e, kernelPpid);
      }
    } else if (first !== undefined && first.latest) {
      return this.#hit(first, kernelPpid);
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
    return this.getByPid(pid);
  };

  stats(): ProcessContextStats {
    return { hits: this.hits, misses: this.misses, exited: this.exited, fromExec: this.fromExec, evictions: this.evictions, size: this.#size };
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

  /**
   * A process image started (the exec probe, before the process's connects in
   * the ring): what its record says is stored, so that a process gone before
   * its first lookup still has its path, argv and parent. Nothing is parsed
   * here (most processes never connect): that lookup builds the context and
   * reads /proc once all the same (the container, the resolved executable).
   */
  noteExec(ev: ProcessExecEvent): void {
    if (ev.procStartNs <= 0) return;
    this.#store(ev.pid, this.#ticks(ev.procStartNs), EXEC_PENDING);
    this.#byPid.get(ev.pid)!.exec = ev;
  }

  /** What an exec record says of its process. */
  #contextOfExec(ev: ProcessExecEvent, ticks: number): ProcessContext {
    let argv = ev.args;
    const cut = ev.argsSize > argv.length;
    if (cut) {
      // the kernel cut argv: its last argument is partial, unless it is the only one
      const lastNul = argv.lastIndexOf(0);
      if (lastNul >= 0) argv = argv.subarray(0, lastNul + 1);
    }
    const parsed = parseCmdline(argv, this.#maxArgs, this.#maxArgBytes);
    const args = parsed && cut ? { ...parsed, truncated: true } : parsed;
    return {
      pid: ev.pid, ppid: ev.ppid > 0 ? ev.ppid : null, comm: ev.comm, exe: ev.filename === '' ? null : ev.filename,
      containerId: null, containerRuntime: null, args, entityId: entityIdOf(this.#bootId, ev.pid, ticks),
      parentComm: null, parentExe: null, ancestors: null, exited: false,
    };
  }

  /**
   * An exec-made entry's first lookup: /proc's context if the process is
   * still there and still runs that image, else the exec's (with /proc's
   * container and lineage when it is there).
   */
  #settleExec(e: Entry, ev: ProcessExecEvent, kernelPpid: number): void {
    e.exec = null;
    const c = this.#contextOfExec(ev, e.ticks);
    e.context = c;
    const r = this.#read(e.pid, e.ticks * this.#nsPerTick, kernelPpid);
    if (!r.context.exited) {
      const p = r.context;
      // exec keeps the pid and start time: another name in /proc means the process has run
      // another image since (e.g. `bash -c '...; sleep 5'` execs sleep), whose exec record
      // comes after the connects being looked up: they were made by this record's image
      if (p.comm !== c.comm) {
        e.context = { ...p, comm: c.comm, exe: c.exe, args: c.args };
        this.fromExec++;
        return;
      }
      // an exiting process (a zombie) still has its stat, but no longer its cmdline or exe
      if ((p.args === null && c.args !== null) || (p.exe === null && c.exe !== null)) {
        e.context = { ...p, args: p.args ?? c.args, exe: p.exe ?? c.exe };
        this.fromExec++;
      } else {
        e.context = p;
      }
      return;
    }
    e.context = { ...c, ...this.#lineage(c.ppid, c.pid), exited: true };
    this.exited++;
    this.fromExec++;
  }

  #hit(e: Entry, kernelPpid = 0): ProcessContext {
    this.hits++;
    if (e.exec !== null) this.#settleExec(e, e.exec, kernelPpid);
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
    const stat = parseProcStat(readOr(`${dir}/stat`));
    // gone, or the pid now belongs to a process that started later
    if (!stat || (startNs !== undefined && !this.#sameStart(stat.startTicks, startNs))) {
      const ppid = kernelPpid > 0 ? kernelPpid : null;
      return {
        context: {
          pid, ppid, comm: null, exe: null, containerId: null, containerRuntime: null, args: null,
          entityId: startNs !== undefined ? entityIdOf(this.#bootId, pid, this.#ticks(startNs)) : null,
          ...this.#lineage(ppid, pid),
          exited: true,
        },
        stat: null,
      };
    }
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
        comm: stat.comm,
        exe,
        containerId: container?.id ?? null,
        containerRuntime: container?.runtime ?? null,
        args: parseCmdline(readBytes(`${dir}/cmdline`), this.#maxArgs, this.#maxArgBytes),
        entityId: entityIdOf(this.#bootId, pid, Number(stat.startTicks)),
        ...this.#lineage(stat.ppid, pid),
        exited: false,
      },
      stat,
    };
  }

  /**
   * The parent's name and executable and the ancestors above it, from the
   * parents' own (cached) contexts: a shell or a service manager is read once
   * for all its children. Stops at pid 0, a loop, or maxAncestors.
   */
  #lineage(ppid: number | null, pid: number): Pick<ProcessContext, 'parentComm' | 'parentExe' | 'ancestors'> {
    const none = { parentComm: null, parentExe: null, ancestors: null };
    // a parent's miss reads its own lineage: bounded, in case pids reused in between make a loop
    if (ppid === null || ppid <= 0 || ppid === pid || this.#depth >= MAX_LINEAGE_DEPTH) return none;
    this.#depth++;
    try {
      const parent = this.get(ppid);
      if (parent.exited) return none;
      const ancestors: string[] = [];
      let p: ProcessContext = parent;
      const seen = new Set<number>([pid, ppid]);
      while (ancestors.length < this.#maxAncestors && p.ppid !== null && p.ppid > 0 && !seen.has(p.ppid)) {
        seen.add(p.ppid);
        p = this.get(p.ppid);
        if (p.exited) break;
        ancestors.push(p.exe ?? p.comm ?? '?');
      }
      return { parentComm: parent.comm, parentExe: parent.exe, ancestors: Object.freeze(ancestors) };
    } finally {
      this.#depth--;
    }
  }
}

/** The context of an exec-made entry until its first lookup builds the real one (never returned). */
const EXEC_PENDING: ProcessContext = Object.freeze({
  pid: 0, ppid: null, comm: null, exe: null, containerId: null, containerRuntime: null, args: null,
  entityId: null, parentComm: null, parentExe: null, ancestors: null, exited: false,
});

/** Parents read in one lookup at most (a process tree is rarely deeper than a few dozen). */
const MAX_LINEAGE_DEPTH = 64;

function readBytes(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    return Buffer.alloc(0);
  }
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The cache for conntrail's config (enrich.processCache, enrich.process) and the host's boot id. */
export function processContextFor(cfg: { enrich: { processCache: { maxEntries: number }; process: { maxArgs: number; maxArgBytes: number; maxAncestors: number } } }, bootId?: string): ProcessContextCache {
  const p = cfg.enrich.process;
  return new ProcessContextCache({
    maxEntries: cfg.enrich.processCache.maxEntries, maxArgs: p.maxArgs, maxArgBytes: p.maxArgBytes, maxAncestors: p.maxAncestors,
    ...(bootId !== undefined ? { bootId } : {}),
  });
}
