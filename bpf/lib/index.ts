// bpf-native-loader: conntrail's kernel capture. Loads the CO-RE BPF object
// through the Node-API addon (bpf/native/loader.c), walks the attach ladder and
// hands ring-buffer records to JavaScript in batches (one Buffer per crossing).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { constants as osConstants } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Every connect rung by name, in the default ladder's order. */
export const PROBE_NAMES = ['lsm', 'fentry', 'kprobe', 'cgroup', 'tracepoint'] as const;
export type ProbeName = (typeof PROBE_NAMES)[number];

/** Default attach ladder: the first rung that loads and attaches wins. */
export const DEFAULT_LADDER: readonly ProbeName[] = PROBE_NAMES;

/** What each rung attaches to. */
export const PROBE_TARGETS: Readonly<Record<ProbeName, string>> = {
  lsm: 'lsm/socket_connect',
  fentry: 'fentry/security_socket_connect',
  kprobe: 'kprobe/security_socket_connect',
  cgroup: 'cgroup/connect4 + cgroup/connect6 on the cgroup v2 root',
  tracepoint: 'tracepoint/syscalls/sys_enter_connect (TOCTOU-prone: reads the address from user memory)',
};

export interface CaptureOptions {
  /** Rungs to try, in order (default DEFAULT_LADDER). */
  ladder?: readonly ProbeName[];
  /** Ring buffer size in bytes: a power of two, at least 4096 (default 8 MiB). */
  ringBytes?: number;
  /** Force a consumer wake-up when this much data is pending (default ringBytes / 4). */
  wakeupBytes?: number;
  /** How often the consumer thread drains the ring (default 10 ms). */
  pollIntervalMs?: number;
  /** Largest batch handed to JS in one call (default 1 MiB, at least 64 KiB). */
  batchBytes?: number;
  /** Batches waiting for the JS thread before the consumer stops draining (default 4). */
  maxInflightBatches?: number;
  /** DNS payload bytes copied per reply (default 512, at most layout.dnsMaxCap). */
  dnsPayloadCap?: number;
  /** Capture DNS replies (cgroup_skb/ingress on the cgroup v2 root; default true). */
  captureDns?: boolean;
  /**
   * Capture how each TCP handshake ends (default true): raw tracepoint
   * inet_sock_set_state leaving SYN_SENT (established or closed and why, the
   * source address the kernel chose), as outcome records in the same ring.
   */
  captureOutcome?: boolean;
  /**
   * Capture connect() calls that fail at once, with no handshake (no route,
   * refused by a policy; default true): fexit on __sys_connect, where the
   * kernel allows BPF trampolines.
   */
  captureConnectExit?: boolean;
  /**
   * Where fexit is refused, capture them with tracepoint
   * syscalls/sys_exit_connect instead (default false): its id comes from
   * tracefs (mounted if missing; not readable without root), and an enabled
   * syscall tracepoint sends every system call of every process through the
   * kernel's slow exit path (measured here: a connect + close loop 12% slower).
   */
  connectExitTracepoint?: boolean;
  /**
   * Capture each new process image (default true): tracepoint
   * sched/sched_process_exec gives its path, argv (execArgsCap bytes), parent
   * and start time, for processes gone before /proc is read.
   */
  captureExec?: boolean;
  /** argv bytes an exec record carries (default 2048, at most layout.exec.maxArgs). */
  execArgsCap?: number;
  /** Destination ports never captured. */
  excludePorts?: readonly number[];
  /** Destination CIDRs never captured ("10.0.0.0/8", "fd00::/8", or a bare address). */
  excludeCidrs?: readonly string[];
  /** Skip this process's own connects, in-kernel by tgid (default true). */
  excludeSelf?: boolean;
  /** cgroup v2 directory to attach to (default: the cgroup2 mount from /proc/mounts). */
  cgroupPath?: string;
  /** Mount tracefs at /sys/kernel/tracing if the tracepoint rung needs it (default true). */
  mountTracefs?: boolean;
  /** Mount securityfs at /sys/kernel/security to read the active LSM list before the lsm rung (default true). */
  mountSecurityfs?: boolean;
  /**
   * Persist the capture (capture.persist): pin its maps and links in this
   * directory of a bpffs, so that the kernel keeps capturing into the ring
   * while no process reads it (stop, SIGKILL, crash, upgrade). An instance
   * found pinned there is adopted when compatible (same record layout, its
   * probe in the ladder, same ring size): what it captured meanwhile is
   * delivered first. Otherwise it is replaced (see PersistStatus). Unset:
   * nothing is pinned and the capture ends with the process.
   */
  pinPath?: string;
  /** Mount bpffs at /sys/fs/bpf when pinPath is under it and nothing mounted it (default true). */
  mountBpffs?: boolean;
  /**
   * Open with the consumer thread not yet created (default false): nothing is
   * drained until resume(). A thread takes its creator's credentials, so
   * after dropPrivileges() the thread made by resume() keeps what the caller kept.
   */
  paused?: boolean;
  /** Called on the JS thread once per batch. */
  onBatch(batch: RawBatch): void;
  /** Called if onBatch throws (default: rethrown as an uncaught exception). */
  onError?(err: unknown): void;
}

/** Records lost in the kernel (failed ring-buffer reservations etc.), cumulative. */
export interface DropCounters {
  connectRingFull: number;
  dnsRingFull: number;
  dnsReadError: number;
  outcomeRingFull: number;
  execRingFull: number;
}

/** Every per-CPU kernel counter, summed over CPUs, cumulative since open. */
export interface KernelCounters extends DropCounters {
  connectSeen: number;
  dnsSeen: number;
  excludedSelf: number;
  excludedPort: number;
  excludedCidr: number;
  outcomeSeen: number;
  execSeen: number;
  /** Handshake ends of sockets a port/CIDR exclude dropped: skipped in the kernel, no record. */
  outcomeExcluded: number;
}

export interface RawBatch {
  /** Framed records: [u32 length][u32 0][record][pad to 8], repeated (see getLayout()). */
  data: Buffer;
  drops: DropCounters;
  counters: KernelCounters;
  /** True for the final batch, delivered by stop(). */
  last: boolean;
}

/** 'check': refused by conntrail before loading (e.g. BPF LSM not in the active LSM list). */
export type AttachStage = 'check' | 'open' | 'adopt' | 'load' | 'config' | 'attach' | 'ringbuf';

export interface AttachAttempt {
  probe: ProbeName;
  target: string;
  ok: boolean;
  stage?: AttachStage;
  errno?: number;
  /** Symbolic errno, e.g. "EPERM". */
  code?: string;
  /** One plain sentence saying why the rung failed. */
  reason?: string;
  /** libbpf's own messages for this attempt (verifier log tail included). */
  log?: string;
  /** What the kernel allows this rung's program type (probed before load). */
  features?: ProgramFeatures;
  note?: string;
}

export interface DnsAttachStatus {
  attached: boolean;
  /** Where the DNS program failed, when it did. */
  stage?: AttachStage | 'disabled';
  errno?: number;
  code?: string;
  /** One plain sentence saying why DNS names are not available. */
  reason?: string;
  /**
   * DNS records carry the receiving netns cookie (the kernel lets skb programs
   * read it): a per-netns name cache is possible. False: one host-wide cache.
   */
  netnsScoped: boolean;
  /** libbpf's messages for the DNS program alone (its verifier log tail, when refused). */
  log?: string;
}

/** Kernel features the loaded program's type may use (CT_FEAT_* of bpf/src/conntrail.h, probed before load). */
export interface ProgramFeatures {
  taskBtf: boolean;
  task: boolean;
  comm: boolean;
  cgroupId: boolean;
  socketCookie: boolean;
  netnsCookie: boolean;
  readKernel: boolean;
}

export interface CaptureStats {
  /** Records handed to JS. */
  records: number;
  bytes: number;
  batches: number;
  /** Poll cycles skipped because JS was behind or the capture was paused. */
  stalls: number;
  /** Times the consumer thread woke to drain the ring (about 1/s on an idle host, 1 per pollIntervalMs when busy). */
  wakeups: number;
  inflight: number;
  kernel: KernelCounters;
}

/** Kernel ids of the programs and maps a capture loaded (as `bpftool prog show` / `map show` list them). */
export interface KernelObjectIds {
  programs: number[];
  maps: number[];
}

/** A tracepoint companion of the rung (captureOutcome, captureExec): attached, or why not. */
export interface CompanionAttachStatus {
  attached: boolean;
  /** Attached in this process: its program (connectExit: ct_connect_exit_fexit, or ct_outcome_syscall where the tracepoint was used). */
  program?: string;
  stage?: AttachStage | 'disabled';
  errno?: number;
  code?: string;
  reason?: string;
  log?: string;
}

/**
 * The cookie maker: a cgroup/sock_create program that makes socket and netns
 * cookies at socket creation for rungs that cannot make them (kprobe,
 * tracepoint; fentry/LSM before 5.12; lazy netns cookies before 5.12).
 */
export interface CookieMakerStatus {
  needed: boolean;
  attached: boolean;
  reason?: string;
}

/** argv bytes an exec record carries at most (CT_EXEC_MAX_ARGS; test/unit/decode.test.ts checks it against getLayout()). */
export const EXEC_MAX_ARGS = 4095;

/** Where capture.persist pins by default (the bpffs systemd mounts). */
export const DEFAULT_PIN_PATH = '/sys/fs/bpf/conntrail';

/** What capture.persist did at open. */
export interface PersistStatus {
  /** off: not asked; pinned: attached here and pinned; adopted: a pinned instance taken over; failed: asked, not persisted. */
  state: 'off' | 'pinned' | 'adopted' | 'failed';
  pinPath?: string;
  /** An instance found pinned at pinPath that was not adopted but removed, why, and what its ring still held (dropped). */
  replaced?: PinnedRemoval & { reason: string };
  /** Why the capture is not persisted (state failed). */
  error?: string;
}

/** What removing a pinned instance took away. */
export interface PinnedRemoval {
  /** Pins removed (maps, links, the tag). */
  removed: number;
  /** Records left unread in its ring (now dropped), when it could be read (counted). */
  records: number;
  bytes: number;
  counted: boolean;
}

/** A pinned instance could not be removed or inspected; the message names the step, path and errno. */
export class PinError extends Error {
  readonly errno: number | undefined;
  readonly userFacing = true;
  constructor(message: string, errno?: number) {
    super(message);
    this.name = 'PinError';
    this.errno = errno;
  }
}

export interface CaptureHandle {
  readonly probe: ProbeName;
  readonly persist: PersistStatus;
  readonly attempts: readonly AttachAttempt[];
  readonly dns: DnsAttachStatus;
  readonly cookies: CookieMakerStatus;
  readonly outcome: CompanionAttachStatus;
  readonly connectExit: CompanionAttachStatus;
  readonly exec: CompanionAttachStatus;
  readonly cgroupPath: string | undefined;
  /** Human-readable attach report: the winner first, then each failed rung and why. */
  report(): string[];
  /** Stop draining the ring (the kernel counts what no longer fits). */
  pause(): void;
  resume(): void;
  stats(): CaptureStats;
  /** Ids of the loaded programs and maps (empty after stop()). */
  kernelIds(): KernelObjectIds;
  /**
   * Detaches every program, delivers the records still in the ring, frees
   * everything. A persisted capture (persist.state pinned or adopted) stays
   * attached in the kernel: its ring keeps filling for the next conntrail.
   */
  stop(): Promise<void>;
}

/** The addon is not built (npm ci ran without clang/libbpf, or CONNTRAIL_SKIP_BPF_BUILD=1). */
export class BuildMissingError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BuildMissingError';
  }
}

/** No rung of the ladder attached; `attempts` says why for each. */
export class AttachError extends Error {
  readonly attempts: readonly AttachAttempt[];
  constructor(attempts: readonly AttachAttempt[]) {
    super(`no connect probe could be attached:\n${attempts.map((a) => '  ' + describeAttempt(a)).join('\n')}`);
    this.name = 'AttachError';
    this.attempts = attempts;
  }
}

/** Offsets, sizes and constants of the record layout, read from the C header via the addon. */
export interface RecordLayout {
  frameHeaderBytes: number;
  /** CT_LAYOUT_VERSION: a pinned instance of another version is replaced, not adopted. */
  version: number;
  /** CT_PIN_MAGIC: the first field of a pinned instance's tag. */
  pinMagic: number;
  dnsMaxCap: number;
  commLen: number;
  kinds: { connect: number; dns: number; outcome: number; exec: number };
  probes: {
    lsm: number; fentry: number; kprobe: number; cgroup: number; tracepoint: number; dnsSkb: number;
    outcomeState: number; outcomeSyscall: number; exec: number;
  };
  flags: { toctou: number; cookie: number; dnsTcp: number; netns: number };
  features: Record<keyof ProgramFeatures, number>;
  counters: {
    dropConnect: number; dropDns: number; dnsReadError: number; connectSeen: number; dnsSeen: number;
    excludedSelf: number; excludedPort: number; excludedCidr: number; dropOutcome: number; outcomeSeen: number;
    dropExec: number; execSeen: number; outcomeExcluded: number; count: number;
  };
  header: { size: number; kind: number; recordSize: number; probe: number; flags: number; ktimeNs: number };
  connect: {
    size: number; pid: number; tid: number; uid: number; gid: number; ppid: number; family: number;
    sockType: number; protocol: number; dstPort: number; procStartNs: number; cgroupId: number;
    netnsCookie: number; socketCookie: number; dstAddr: number; comm: number;
  };
  dns: {
    size: number; netnsCookie: number; ifindex: number; family: number; transport: number; srcPort: number;
    dstPort: number; payloadLength: number; capturedLength: number; srcAddr: number; dstAddr: number; payload: number;
  };
  outcome: {
    size: number; socketCookie: number; pid: number; tid: number; err: number; family: number; newState: number;
    srcPort: number; dstPort: number; srcAddr: number; dstAddr: number;
  };
  exec: {
    size: number; pid: number; ppid: number; procStartNs: number; uid: number; gid: number; argsLength: number; argsSize: number;
    filenameLength: number; comm: number; filename: number; filenameMax: number; args: number; maxArgs: number;
  };
  tcpStates: { established: number; close: number };
}

// ---------- the addon ----------

interface NativeStep<Stage extends string = AttachStage> {
  ok: boolean;
  stage?: Stage;
  errno?: number;
  features: number;
  log: string;
  program?: string;
}

interface NativeOpenResult extends NativeStep {
  handle?: object;
  dns: NativeStep<AttachStage | 'disabled'> & { adopted: boolean };
  /** cgroup/sock_create making cookies for a rung that cannot ('disabled': not needed). */
  cookies: NativeStep<AttachStage | 'disabled'> & { adopted: boolean };
  extras: Record<'outcome' | 'connectExit' | 'exec', NativeStep<AttachStage | 'disabled'> & { adopted: boolean }>;
  persist: { state: PersistStatus['state']; error?: string };
}

interface NativePinTag { magic: number; version: number; probe: string; ringBytes: number; dns: boolean; cookies: boolean; outcome: boolean; connectExit: boolean; exec: boolean }

interface NativeStats { records: number; bytes: number; batches: number; stalls: number; oversize: number; inflight: number; wakeups: number }

interface NativeAddon {
  open(opts: Record<string, unknown>): NativeOpenResult;
  start(handle: object, opts: { pollMs: number; batchBytes: number; maxInflight: number; paused: boolean },
    cb: (data: Buffer | null, counters: Buffer | null, end: boolean) => void): void;
  requestStop(handle: object): void;
  close(handle: object): void;
  pause(handle: object, paused: boolean): void;
  counters(handle: object): Buffer;
  stats(handle: object): NativeStats;
  ids(handle: object): KernelObjectIds;
  layout(): RecordLayout;
  probes(): string[];
  clockOffsetNs(): bigint;
  boottimeNs(): bigint;
  sampleRecords(): Buffer;
  mountTracefs(): number;
  mountSecurityfs(): number;
  mountBpffs(): number;
  pinInspect(dir: string): { present: boolean; tag?: NativePinTag; errno?: number };
  pinRemove(dir: string): PinnedRemoval & { ok: boolean; nothing: boolean; error?: string; errno?: number };
  onBpffs(path: string): boolean;
  libbpfVersion(): string;
  dropPrivileges(user: string, keep: number[]): { uid: number; gid: number };
  releaseFreedMemory(): boolean;
}

export const ADDON_PATH = fileURLToPath(new URL('../build/Release/bpf_native_loader.node', import.meta.url));

let native: NativeAddon | undefined;

function addon(): NativeAddon {
  if (native) return native;
  if (!existsSync(ADDON_PATH)) {
    throw new BuildMissingError(
      `bpf-native-loader is not built (${ADDON_PATH} is missing): run "npm run build -w bpf-native-loader" ` +
      '(needs clang, bpftool, libbpf-dev, libelf-dev, zlib1g-dev, make, a C compiler)');
  }
  try {
    native = createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
  } catch (err) {
    throw new BuildMissingError(`bpf-native-loader could not be loaded from ${ADDON_PATH}: ${(err as Error).message}`, { cause: err });
  }
  return native;
}

/** True when the addon is built and loadable. */
export function isBuilt(): boolean {
  try {
    addon();
    return true;
  } catch {
    return false;
  }
}

/** The rung names of the addon's table (bpf/native/capture.c), which PROBE_TARGETS must match. */
export function nativeProbes(): string[] {
  return addon().probes();
}

let layoutCache: RecordLayout | undefined;

/** The record layout (offsets from offsetof() in C, constants from bpf/src/conntrail.h). */
export function getLayout(): RecordLayout {
  layoutCache ??= Object.freeze(addon().layout());
  return layoutCache;
}

/** CLOCK_REALTIME - CLOCK_BOOTTIME in ns: add it to a record's ktime to get epoch ns. */
export function clockOffsetNs(): bigint {
  return addon().clockOffsetNs();
}

/** CLOCK_BOOTTIME now, in ns (the clock records are stamped with). */
export function bootTimeNs(): bigint {
  return addon().boottimeNs();
}

/** A framed batch written in C with known values (for the decoder's unit test). */
export function sampleRecords(): Buffer {
  return addon().sampleRecords();
}

export function libbpfVersion(): string {
  return addon().libbpfVersion();
}

/** The capabilities conntrail may keep after attaching, by their numbers in <linux/capability.h>. */
export const CAPABILITIES = { net_admin: 12, sys_ptrace: 19, sys_admin: 21, sys_resource: 24, perfmon: 38, bpf: 39 } as const;
export type CapabilityName = keyof typeof CAPABILITIES;

/**
 * From root to `user`, keeping only `keep` on the calling (main) thread; every
 * other thread is left with no capability (privileges.c). For after the attach.
 */
export function dropPrivileges(user: string, keep: readonly CapabilityName[]): { uid: number; gid: number } {
  return addon().dropPrivileges(user, keep.map((k) => CAPABILITIES[k]));
}

/**
 * Hands the memory malloc holds free back to the kernel (glibc's
 * malloc_trim(0); host.c). For once start-up is over: compiling and loading
 * leave ~15 MiB of freed malloc pages that glibc would otherwise keep. True
 * when some pages were released.
 */
export function releaseFreedMemory(): boolean {
  return addon().releaseFreedMemory();
}

// ---------- helpers ----------

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(osConstants.errno)) {
  if (!errnoNames.has(value)) errnoNames.set(value, name);
}
errnoNames.set(524, 'ENOTSUPP');

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

/** The first cgroup2 mount point in a /proc/mounts text. */
export function findCgroup2Mount(mounts: string): string | undefined {
  for (const line of mounts.split('\n')) {
    const f = line.split(' ');
    if (f[2] === 'cgroup2' && f[1]) return f[1].replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  }
  return undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Parses "10.0.0.0/8", "fd00::/8" or a bare address into the LPM key form (IPv4 mapped into ::ffff:0:0/96). */
export function parseCidr(cidr: string): { addr: Buffer; prefixlen: number } {
  const slash = cidr.indexOf('/');
  const ip = slash < 0 ? cidr : cidr.slice(0, slash);
  const version = isIP(ip);
  if (!version) throw new RangeError(`excludeCidrs: "${cidr}" is not an IP address or CIDR`);
  const max = version === 4 ? 32 : 128;
  const prefix = slash < 0 ? max : Number(cidr.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new RangeError(`excludeCidrs: bad prefix length in "${cidr}"`);
  const addr = Buffer.alloc(16);
  if (version === 4) {
    addr[10] = 0xff;
    addr[11] = 0xff;
    ip.split('.').forEach((o, i) => { addr[12 + i] = Number(o); });
    return { addr, prefixlen: prefix + 96 };
  }
  ipv6Bytes(ip).copy(addr);
  return { addr, prefixlen: prefix };
}

function ipv6Bytes(ip: string): Buffer {
  let text = ip;
  const out = Buffer.alloc(16);
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const o = v4[1].split('.').map(Number);
    text = text.slice(0, -v4[1].length) + `${((o[0] ?? 0) << 8 | (o[1] ?? 0)).toString(16)}:${((o[2] ?? 0) << 8 | (o[3] ?? 0)).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** The active LSMs (/sys/kernel/security/lsm), undefined when securityfs is not mounted. */
export function activeLsms(): string[] | undefined {
  return readText('/sys/kernel/security/lsm')?.trim().split(',');
}

function lsmListed(): boolean | undefined {
  return activeLsms()?.includes('bpf');
}

/** One plain sentence for a failed rung. */
export function explainFailure(probe: ProbeName, stage: AttachStage, errno: number): string {
  const e = errnoName(errno);
  if (probe === 'lsm') {
    if (errno === osConstants.errno.EPERM && stage === 'load') {
      const listed = lsmListed();
      if (listed === undefined) {
        return 'the kernel refused the BPF LSM program; whether bpf is in the active LSM list is unknown: securityfs is not mounted ' +
          '(mount -t securityfs securityfs /sys/kernel/security, then see /sys/kernel/security/lsm; bpf must be in the lsm= boot parameter)';
      }
      return listed
        ? 'BPF LSM is enabled (bpf is in /sys/kernel/security/lsm) but the kernel refused the program: BPF LSM programs are restricted on this host'
        : 'BPF LSM is not enabled: add bpf to the lsm= boot parameter';
    }
    if (errno === osConstants.errno.ESRCH || errno === osConstants.errno.ENOENT) return 'the kernel has no BPF LSM hook socket_connect (built without CONFIG_BPF_LSM)';
  }
  if (probe === 'fentry') {
    if (errno === osConstants.errno.EPERM) return 'the kernel refused fentry programs (BPF tracing/trampolines are restricted on this host: lockdown or a security policy)';
    if (errno === 524 || errno === osConstants.errno.EOPNOTSUPP) return 'BPF trampolines (fentry) are not supported by this kernel or architecture';
  }
  if (probe === 'kprobe' && stage === 'attach' && (errno === osConstants.errno.ENOENT || errno === osConstants.errno.EOPNOTSUPP)) {
    return existsSync('/sys/bus/event_source/devices/kprobe')
      ? 'security_socket_connect cannot be probed (not found or blacklisted for kprobes)'
      : 'kprobes are not available: the kernel is built without CONFIG_KPROBES (no kprobe PMU, no kprobe_events)';
  }
  if (probe === 'tracepoint' && stage === 'attach' && errno === osConstants.errno.ENOENT) {
    return existsSync('/sys/kernel/tracing/events')
      ? 'the tracepoint syscalls/sys_enter_connect does not exist (kernel built without CONFIG_FTRACE_SYSCALLS)'
      : 'tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing';
  }
  if (probe === 'cgroup' && stage === 'attach' && (errno === osConstants.errno.ENOENT || errno === osConstants.errno.ENOTDIR)) {
    return 'no cgroup v2 directory to attach to: mount cgroup2 or set cgroupPath';
  }
  if (errno === osConstants.errno.EPERM || errno === osConstants.errno.EACCES) {
    return stage === 'load' && errno === osConstants.errno.EACCES
      ? 'the verifier rejected the program (see the libbpf log)'
      : 'operation not permitted: run as root (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_ADMIN)';
  }
  if (errno === osConstants.errno.EAGAIN && stage === 'load') return 'the verifier was interrupted (a signal kept arriving during the load, e.g. a profiler): try again';
  if (errno === osConstants.errno.EINVAL && stage === 'load') return 'the kernel rejected the program or a map as invalid (see the libbpf log)';
  return `${stage} failed with ${e}`;
}

/** "lsm (lsm/socket_connect): failed at load, EPERM (errno 1): BPF LSM is not enabled: ..." */
export function describeAttempt(a: AttachAttempt): string {
  if (a.ok) return `${a.probe} (${a.target}): attached${a.note ? ` (${a.note})` : ''}`;
  return `${a.probe} (${a.target}): failed at ${a.stage ?? '?'}, ${a.code ?? '?'} (errno ${a.errno ?? '?'}): ${a.reason ?? ''}` +
    (a.note ? ` (${a.note})` : '');
}

function featuresOf(bits: number, l: RecordLayout): ProgramFeatures {
  const f = {} as ProgramFeatures;
  for (const [name, bit] of Object.entries(l.features) as [keyof ProgramFeatures, number][]) f[name] = (bits & bit) !== 0;
  return f;
}

/** One plain sentence for a DNS program that did not load or attach. */
export function explainDnsFailure(stage: AttachStage, errno: number, cgroupPath: string | undefined): string {
  if (stage === 'attach' && !cgroupPath) return 'no cgroup v2 mount to attach cgroup_skb/ingress to: mount cgroup2 or set capture.cgroupPath';
  if (stage === 'attach') return `cgroup_skb/ingress could not attach to ${cgroupPath}: ${errnoName(errno)}`;
  if (stage === 'load') return `the kernel refused the DNS program (cgroup_skb/ingress) at load, ${errnoName(errno)}: see its verifier log (conntrail doctor)`;
  return `the DNS program failed at ${stage}, ${errnoName(errno)}`;
}

function dnsStatusOf(d: NativeStep<AttachStage | 'disabled'>, l: RecordLayout, cgroupPath: string | undefined): DnsAttachStatus {
  const netnsScoped = d.ok && (d.features & (l.features.netnsCookie | l.features.readKernel)) !== 0;
  if (d.ok) return { attached: true, netnsScoped, log: d.log };
  if (d.stage === 'disabled') return { attached: false, stage: 'disabled', reason: 'disabled (captureDns: false)', netnsScoped: false };
  const stage = d.stage ?? 'open';
  const errno = d.errno ?? 0;
  return { attached: false, stage, errno, code: errnoName(errno), reason: explainDnsFailure(stage, errno, cgroupPath), netnsScoped: false, log: d.log };
}

function companionStatusOf(what: string, option: string, o: NativeStep<AttachStage | 'disabled'>): CompanionAttachStatus {
  if (o.ok) return { attached: true, ...(o.program ? { program: o.program } : {}), log: o.log };
  if (o.stage === 'disabled') return { attached: false, stage: 'disabled', reason: `disabled (${option}: false)` };
  const stage = o.stage ?? 'open';
  const errno = o.errno ?? 0;
  return { attached: false, stage, errno, code: errnoName(errno), log: o.log,
    reason: `${what} failed at ${stage}, ${errnoName(errno)}${hint(what, stage, errno)}` };
}

/** Why a companion's failure is likely, where the errno says it. */
function hint(what: string, stage: string, errno: number): string {
  const E = osConstants.errno;
  if (what.startsWith('tracepoint') && stage === 'attach' && (errno === E.ENOENT || errno === E.EACCES)) return ' (its id is read from tracefs: not mounted, or not readable by this user)';
  if (what.startsWith('fexit') && (errno === E.EPERM || errno === E.EOPNOTSUPP || errno === 524 /* ENOTSUPP, the kernel's own */)) {
    return ' (this kernel refuses BPF trampolines; connectExitTracepoint: true uses the syscall tracepoint instead, at a cost to every system call)';
  }
  return '';
}

function readCounters(buf: Buffer | null, l: RecordLayout): KernelCounters {
  const at = (i: number): number => (buf && buf.length >= (i + 1) * 8 ? Number(buf.readBigUInt64LE(i * 8)) : 0);
  const c = l.counters;
  return {
    connectRingFull: at(c.dropConnect),
    dnsRingFull: at(c.dropDns),
    dnsReadError: at(c.dnsReadError),
    connectSeen: at(c.connectSeen),
    dnsSeen: at(c.dnsSeen),
    excludedSelf: at(c.excludedSelf),
    excludedPort: at(c.excludedPort),
    excludedCidr: at(c.excludedCidr),
    outcomeRingFull: at(c.dropOutcome),
    outcomeSeen: at(c.outcomeSeen),
    execRingFull: at(c.dropExec),
    execSeen: at(c.execSeen),
    outcomeExcluded: at(c.outcomeExcluded),
  };
}

/** The kernel counters that count lost records. */
export function dropsOf(k: KernelCounters): DropCounters {
  return { connectRingFull: k.connectRingFull, dnsRingFull: k.dnsRingFull, dnsReadError: k.dnsReadError,
    outcomeRingFull: k.outcomeRingFull, execRingFull: k.execRingFull };
}

function positiveInt(name: string, v: number | undefined, def: number): number {
  const x = v ?? def;
  if (!Number.isInteger(x) || x <= 0) throw new RangeError(`${name} must be a positive integer, got ${String(v)}`);
  return x;
}

// ---------- capture.persist ----------

/** The attach report's lines for capture.persist (none when off). */
export function persistReport(p: PersistStatus, probe: ProbeName, k: KernelCounters): string[] {
  const lines: string[] = [];
  const r = p.replaced;
  if (r) {
    lines.push(`conntrail capture: replaced the instance pinned at ${p.pinPath ?? '?'} (${r.reason}): ` + (r.counted
      ? `${r.records} records (${r.bytes} bytes) left in its ring could not be drained and are dropped`
      : 'what its ring held could not be read or counted'));
  }
  if (p.state === 'pinned') lines.push(`conntrail capture: persisted at ${p.pinPath ?? '?'}: capture goes on while no conntrail runs (conntrail detach removes it)`);
  if (p.state === 'adopted') {
    lines.push(`conntrail capture: adopted the ${probe} capture pinned at ${p.pinPath ?? '?'}: the connects it captured while no conntrail ran come first; ` +
      `kernel drops since it was pinned: ${k.connectRingFull} connect, ${k.dnsRingFull} DNS`);
  }
  if (p.state === 'failed') lines.push(`conntrail capture: NOT persisted (capture stops with this process): ${p.error ?? '?'}`);
  return lines;
}

/** Why the instance pinned at a directory cannot be adopted (undefined: it can). */
export function pinnedIncompatibility(found: { tag?: NativePinTag; errno?: number }, want: { ladder: readonly ProbeName[]; ringBytes: number }, l: RecordLayout): string | undefined {
  const t = found.tag;
  if (!t) {
    return found.errno === osConstants.errno.ENOENT ? 'no tag: pinned only in part'
      : found.errno === osConstants.errno.EPROTO ? 'its tag has another shape: another conntrail version'
        : `its tag cannot be read: ${errnoName(found.errno ?? 0)}`;
  }
  if (t.magic !== l.pinMagic) return 'its tag is not conntrail\'s';
  if (t.version !== l.version) return `record layout v${t.version}, this conntrail's is v${l.version}`;
  if (!(want.ladder as readonly string[]).includes(t.probe)) return `its probe ${t.probe} is not in the ladder (${want.ladder.join(', ')})`;
  if (t.ringBytes !== want.ringBytes) return `its ring has ${t.ringBytes} bytes, ${want.ringBytes} configured`;
  return undefined;
}

/**
 * conntrail detach: removes every pin at pinPath (the kernel then detaches and
 * frees what no process holds). nothing: there was nothing pinned. Throws
 * PinError naming the step (e.g. not root: EACCES).
 */
export function removePinned(pinPath: string): PinnedRemoval & { nothing: boolean } {
  const r = addon().pinRemove(pinPath);
  if (!r.ok) throw new PinError(r.error ?? `remove ${pinPath}: ${errnoName(r.errno ?? 0)}`, r.errno);
  return { nothing: r.nothing, removed: r.removed, records: r.records, bytes: r.bytes, counted: r.counted };
}

/** bpffs under the pin directory: mounted at /sys/fs/bpf when missing there. An error sentence when there is none. */
function ensureBpffs(n: NativeAddon, pinPath: string, mount: boolean): string | undefined {
  const parent = dirname(pinPath);
  if (n.onBpffs(parent)) return undefined;
  if (mount && parent === '/sys/fs/bpf') {
    const err = n.mountBpffs();
    if (err === 0 && n.onBpffs(parent)) return undefined;
    return `mount bpffs at /sys/fs/bpf: ${errnoName(err)}`;
  }
  return `${parent} is not on bpffs: mount it (mount -t bpf bpf ${parent}) or set capture.pinPath under /sys/fs/bpf`;
}

// ---------- openCapture ----------

class Capture implements CaptureHandle {
  readonly probe: ProbeName;
  readonly attempts: readonly AttachAttempt[];
  readonly dns: DnsAttachStatus;
  readonly cookies: CookieMakerStatus;
  readonly outcome: CompanionAttachStatus;
  readonly connectExit: CompanionAttachStatus;
  readonly exec: CompanionAttachStatus;
  readonly cgroupPath: string | undefined;
  readonly persist: PersistStatus;
  #handle: object;
  #native: NativeAddon;
  #stopping: Promise<void> | undefined;
  #resolveStop: (() => void) | undefined;
  #closed = false;
  #lastKernel: KernelCounters | undefined;

  constructor(init: {
    probe: ProbeName; attempts: AttachAttempt[]; dns: DnsAttachStatus; cookies: CookieMakerStatus;
    outcome: CompanionAttachStatus; connectExit: CompanionAttachStatus; exec: CompanionAttachStatus;
    cgroupPath: string | undefined; persist: PersistStatus; handle: object; native: NativeAddon;
  }) {
    this.probe = init.probe;
    this.persist = init.persist;
    this.attempts = init.attempts;
    this.dns = init.dns;
    this.cookies = init.cookies;
    this.outcome = init.outcome;
    this.connectExit = init.connectExit;
    this.exec = init.exec;
    this.cgroupPath = init.cgroupPath;
    this.#handle = init.handle;
    this.#native = init.native;
  }

  start(opts: CaptureOptions, layout: RecordLayout): void {
    const onError = opts.onError;
    this.#native.start(this.#handle, {
      pollMs: positiveInt('pollIntervalMs', opts.pollIntervalMs, 10),
      batchBytes: positiveInt('batchBytes', opts.batchBytes, 1 << 20),
      maxInflight: positiveInt('maxInflightBatches', opts.maxInflightBatches, 4),
      paused: opts.paused ?? false,
    }, (data, countersBuf, end) => {
      const counters = readCounters(countersBuf, layout);
      this.#lastKernel = counters;
      try {
        opts.onBatch({ data: data ?? Buffer.alloc(0), drops: dropsOf(counters), counters, last: end });
      } catch (err) {
        if (onError) onError(err);
        else throw err;
      } finally {
        if (end) this.#finish();
      }
    });
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close(this.#handle);
    this.#resolveStop?.();
  }

  report(): string[] {
    const win = this.attempts.find((a) => a.ok);
    const lines = [`conntrail capture: connect probe ${this.probe} attached (${win?.target ?? PROBE_TARGETS[this.probe]})` +
      (win?.note ? `; ${win.note}` : '')];
    for (const a of this.attempts) if (!a.ok) lines.push(`conntrail capture: ${describeAttempt(a)}`);
    if (this.cookies.needed) {
      lines.push(this.cookies.attached
        ? `conntrail capture: socket and netns cookies made at socket creation (cgroup/sock_create): ${this.probe} cannot make them on this kernel`
        : `conntrail capture: records may lack socket or netns cookies: ${this.cookies.reason ?? '?'}`);
    }
    lines.push(this.dns.attached
      ? `conntrail capture: DNS replies captured (cgroup_skb/ingress on ${this.cgroupPath ?? '?'})` +
        (this.dns.netnsScoped ? '' : '; this kernel gives skb programs no netns id, so the DNS cache is host-wide')
      : `conntrail capture: DNS names NOT available (connects are captured without results): ${this.dns.reason ?? 'disabled'}`);
    if (this.outcome.stage !== 'disabled') {
      lines.push(this.outcome.attached
        ? 'conntrail capture: TCP handshake outcomes and source addresses captured (raw_tp inet_sock_set_state)'
        : `conntrail capture: TCP handshake outcomes and source addresses NOT available: ${this.outcome.reason ?? '?'}`);
    }
    if (this.connectExit.stage !== 'disabled') {
      lines.push(this.connectExit.attached
        ? `conntrail capture: connect() failures with no handshake captured (${this.connectExit.program === 'ct_outcome_syscall' ? 'tracepoint syscalls/sys_exit_connect: every system call on the host takes the slow exit path' : 'fexit __sys_connect'})`
        : `conntrail capture: connect() failures with no handshake (no route, refused by a policy) NOT seen, they publish as in_progress: ${this.connectExit.reason ?? '?'}`);
    }
    if (this.exec.stage !== 'disabled') {
      lines.push(this.exec.attached
        ? 'conntrail capture: process starts captured (raw_tp sched_process_exec): short-lived processes keep their path, arguments and parent'
        : `conntrail capture: process starts NOT captured (processes gone before /proc is read lose their path and arguments): ${this.exec.reason ?? '?'}`);
    }
    lines.push(...persistReport(this.persist, this.probe, this.stats().kernel));
    return lines;
  }

  pause(): void {
    if (!this.#closed) this.#native.pause(this.#handle, true);
  }

  resume(): void {
    if (!this.#closed) this.#native.pause(this.#handle, false);
  }

  stats(): CaptureStats {
    const s = this.#native.stats(this.#handle);
    const kernel = this.#closed && this.#lastKernel ? this.#lastKernel : readCounters(this.#closed ? null : this.#native.counters(this.#handle), getLayout());
    return { records: s.records, bytes: s.bytes, batches: s.batches, stalls: s.stalls, wakeups: s.wakeups, inflight: s.inflight, kernel };
  }

  kernelIds(): KernelObjectIds {
    return this.#native.ids(this.#handle);
  }

  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    if (this.#closed) return (this.#stopping = Promise.resolve());
    this.#stopping = new Promise<void>((resolve) => { this.#resolveStop = resolve; });
    this.#native.requestStop(this.#handle);
    return this.#stopping;
  }
}

/**
 * Walks the ladder; the first rung that loads and attaches wins and starts
 * delivering batches to opts.onBatch. Throws AttachError if none does,
 * BuildMissingError if the addon is not built.
 */
export function openCapture(opts: CaptureOptions): CaptureHandle {
  const n = addon();
  const layout = getLayout();
  const ladder = opts.ladder ?? DEFAULT_LADDER;
  if (ladder.length === 0) throw new RangeError('ladder is empty');
  for (const p of ladder) if (!(p in PROBE_TARGETS)) throw new RangeError(`unknown probe "${p}" (one of ${Object.keys(PROBE_TARGETS).join(', ')})`);
  const ringBytes = positiveInt('ringBytes', opts.ringBytes, 8 << 20);
  if (ringBytes < 4096 || (ringBytes & (ringBytes - 1)) !== 0) throw new RangeError(`ringBytes must be a power of two >= 4096, got ${ringBytes}`);
  const dnsCap = opts.dnsPayloadCap ?? 512;
  if (!Number.isInteger(dnsCap) || dnsCap < 0 || dnsCap > layout.dnsMaxCap) throw new RangeError(`dnsPayloadCap must be 0..${layout.dnsMaxCap}`);
  const captureDns = opts.captureDns ?? true;
  const captureOutcome = opts.captureOutcome ?? true;
  const captureConnectExit = opts.captureConnectExit ?? true;
  const connectExitTracepoint = opts.connectExitTracepoint ?? false;
  const captureExec = opts.captureExec ?? true;
  const execArgsCap = opts.execArgsCap ?? 2048;
  if (!Number.isInteger(execArgsCap) || execArgsCap < 0 || execArgsCap > layout.exec.maxArgs) throw new RangeError(`execArgsCap must be 0..${layout.exec.maxArgs}`);
  // a classic tracepoint: libbpf finds its id in tracefs
  if (captureConnectExit && connectExitTracepoint && opts.mountTracefs !== false && !existsSync('/sys/kernel/tracing/events') &&
      !existsSync('/sys/kernel/debug/tracing/events')) n.mountTracefs();
  const cgroupPath = opts.cgroupPath ?? findCgroup2Mount(readText('/proc/mounts') ?? '');
  const base = {
    ringBytes,
    wakeupBytes: positiveInt('wakeupBytes', opts.wakeupBytes, ringBytes / 4),
    dnsCap,
    captureDns,
    captureOutcome,
    captureConnectExit,
    connectExitTracepoint,
    captureExec,
    execArgsCap,
    cgroupPath: cgroupPath ?? '',
    selfTgid: opts.excludeSelf === false ? 0 : process.pid,
    excludePorts: [...(opts.excludePorts ?? [])],
    excludeCidrs: (opts.excludeCidrs ?? []).map(parseCidr),
  };
  for (const p of base.excludePorts) if (!Number.isInteger(p) || p < 0 || p > 65535) throw new RangeError(`excludePorts: bad port ${p}`);

  const made = (probe: ProbeName, attempts: AttachAttempt[], r: NativeOpenResult & { handle: object }, persist: PersistStatus): Capture => {
    const dns = dnsStatusOf(r.dns, layout, cgroupPath);
    const k = r.cookies;
    const cookies: CookieMakerStatus = k.stage === 'disabled' ? { needed: false, attached: false }
      : { needed: true, attached: k.ok, ...(k.ok ? {} : { reason: `cgroup/sock_create failed at ${k.stage ?? '?'}, ${errnoName(k.errno ?? 0)}` }) };
    const p: PersistStatus = persist.state === 'failed' ? persist
      : { ...persist, state: r.persist.state, ...(r.persist.error ? { error: r.persist.error } : {}) };
    const cap = new Capture({ probe, attempts, dns, cookies, outcome: companionStatusOf('raw_tp inet_sock_set_state', 'captureOutcome', r.extras.outcome),
      connectExit: companionStatusOf(connectExitTracepoint ? 'tracepoint syscalls/sys_exit_connect (after fexit __sys_connect)' : 'fexit __sys_connect', 'captureConnectExit', r.extras.connectExit),
      exec: companionStatusOf('raw_tp sched_process_exec', 'captureExec', r.extras.exec), cgroupPath, persist: p, handle: r.handle, native: n });
    cap.start(opts, layout);
    return cap;
  };

  // capture.persist: adopt what is pinned when it fits, else remove it; then pin what the ladder attaches
  let pinPath = opts.pinPath;
  const persist: PersistStatus = { state: pinPath ? 'pinned' : 'off', ...(pinPath ? { pinPath } : {}) };
  if (pinPath) {
    const noFs = ensureBpffs(n, pinPath, opts.mountBpffs !== false);
    const found = noFs ? undefined : n.pinInspect(pinPath);
    if (noFs) {
      Object.assign(persist, { state: 'failed', error: noFs });
      pinPath = undefined;
    } else if (found?.present) {
      let reason = pinnedIncompatibility(found, { ladder, ringBytes }, layout);
      const probe = found.tag?.probe as ProbeName;
      if (!reason) {
        const r = n.open({ ...base, probe, pinPath, adopt: true });
        if (r.ok && r.handle) {
          const attempt: AttachAttempt = { probe, target: PROBE_TARGETS[probe], ok: true, note: `adopted from ${pinPath}`, log: r.log, features: featuresOf(r.features, layout) };
          return made(probe, [attempt], { ...r, handle: r.handle }, persist);
        }
        reason = `adopting it failed: ${r.persist.error ?? `${r.stage ?? '?'}, ${errnoName(r.errno ?? 0)}`}`;
      }
      const removed = n.pinRemove(pinPath);
      persist.replaced = { reason, removed: removed.removed, records: removed.records, bytes: removed.bytes, counted: removed.counted };
      if (!removed.ok) {
        Object.assign(persist, { state: 'failed', error: `the instance pinned there could not be removed: ${removed.error ?? '?'}` });
        pinPath = undefined;
      }
    }
  }
  const fresh = pinPath ? { ...base, pinPath } : base;

  const attempts: AttachAttempt[] = [];
  for (const probe of ladder) {
    const attempt: AttachAttempt = { probe, target: PROBE_TARGETS[probe], ok: false };
    if (probe === 'lsm') {
      // A BPF LSM program loads and attaches on a kernel that does not run BPF LSM hooks
      // (bpf not in lsm=; seen on 5.10): it would win the ladder and capture nothing.
      let listed = lsmListed();
      if (listed === undefined && opts.mountSecurityfs !== false) {
        const err = n.mountSecurityfs();
        attempt.note = err === 0 ? 'mounted securityfs at /sys/kernel/security' : `mounting securityfs failed: ${errnoName(err)}`;
        listed = lsmListed();
      }
      if (listed === false) {
        const errno = osConstants.errno.EOPNOTSUPP;
        Object.assign(attempt, { stage: 'check', errno, code: errnoName(errno), reason: 'BPF LSM is not enabled: add bpf to the lsm= boot parameter (bpf is not in /sys/kernel/security/lsm; its program would attach and never run)' });
        attempts.push(attempt);
        continue;
      }
      if (listed === undefined) attempt.note = `${attempt.note ? attempt.note + '; ' : ''}the active LSM list is unknown: the lsm rung may attach and capture nothing`;
    }
    let r = n.open({ ...fresh, probe });
    if (!r.ok && probe === 'tracepoint' && r.stage === 'attach' && r.errno === osConstants.errno.ENOENT &&
        !existsSync('/sys/kernel/tracing/events') && opts.mountTracefs !== false) {
      const err = n.mountTracefs();
      attempt.note = err === 0 ? 'mounted tracefs at /sys/kernel/tracing' : `mounting tracefs failed: ${errnoName(err)}`;
      if (err === 0) r = n.open({ ...fresh, probe });
    }
    if (probe === 'cgroup' && !cgroupPath && !r.ok) attempt.note = 'no cgroup2 mount in /proc/mounts';
    attempt.log = r.log;
    attempt.features = featuresOf(r.features, layout);
    if (!r.ok || !r.handle) {
      const errno = r.errno ?? 0;
      const stage = r.stage ?? 'open';
      Object.assign(attempt, { stage, errno, code: errnoName(errno), reason: explainFailure(probe, stage, errno) });
      attempts.push(attempt);
      continue;
    }
    attempt.ok = true;
    attempts.push(attempt);
    return made(probe, attempts, { ...r, handle: r.handle }, persist);
  }
  throw new AttachError(attempts);
}
