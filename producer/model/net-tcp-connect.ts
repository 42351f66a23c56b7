// The NetTCPConnect record: the one definition of what conntrail publishes per connect.
// The TypeScript type is derived from NET_TCP_CONNECT_SHAPE (shape.ts), and a test checks
// schemas/NetTCPConnect.avsc (and the ECS encoder) against the same shape, so the
// three cannot drift apart.

import type { FromShape, LeafKind, Shape } from './shape.ts';

export const NET_TCP_CONNECT_SHAPE = {
  /** Unique id of this event (UUID v4), for deduplication downstream. */
  eventId: 'string',
  /** Always "NetTCPConnect". */
  eventName: 'string',
  /** When connect() was called: kernel boot-clock time converted to wall clock, microseconds since the epoch. */
  timestamp: 'timestamp-micros',
  host: {
    /** Host name (config host.name). */
    name: 'string',
    /** /etc/machine-id, empty if the host has none. */
    machineId: 'string',
    /** Kernel boot id (/proc/sys/kernel/random/boot_id): pid and cgroup ids are unique only within one boot. */
    bootId: 'string',
  },
  process: {
    /** Process id (thread group id) that called connect(). */
    pid: 'int',
    /** Thread id that called connect(). */
    tid: 'int',
    /** Parent process id; null when the process exited before it was read. */
    ppid: 'int?',
    /** Real user id. */
    uid: 'long',
    /** Real group id. */
    gid: 'long',
    /** Task command name (comm, at most 15 bytes). */
    comm: 'string',
    /** Executable path; null when the process exited before it was read. */
    exe: 'string?',
    /** cgroup v2 id of the process. */
    cgroupId: 'long',
    /** Container id found in the process's cgroup path (docker, containerd, cri-o, podman); null outside containers. */
    containerId: 'string?',
    /** argv, bounded by enrich.process.maxArgs and maxArgBytes (invalid UTF-8 as U+FFFD); null when it could not be read (the process exited first). Since v2. */
    args: 'string[]?',
    /** How many arguments the process had (more than args holds when argsTruncated). Since v2. */
    argsCount: 'int?',
    /** Arguments were left out of args, or the one kept was cut, to stay within the bounds. Since v2. */
    argsTruncated: 'boolean?',
    /** args joined by spaces. Since v2. */
    commandLine: 'string?',
    /** When the process started, microseconds since the epoch (from the kernel: known even after it exited). Since v2. */
    startTime: 'timestamp-micros?',
    /** Stable id of the process across pid reuse: a hash of the boot id, pid and start time. Since v2. */
    entityId: 'string?',
    /** The parent's command name. Since v2. */
    parentComm: 'string?',
    /** The parent's executable path. Since v2. */
    parentExe: 'string?',
    /** Executables of the ancestors above the parent, nearest first, up to enrich.process.maxAncestors. Since v2. */
    ancestors: 'string[]?',
    /** Name of uid in the host's account files; null when they have none. Since v2. */
    userName: 'string?',
    /** Name of gid in the host's account files; null when they have none. Since v2. */
    groupName: 'string?',
  },
  /** Network namespace cookie of the socket (the DNS cache is scoped by it). */
  netnsCookie: 'long',
  /** Destination IP address, canonical text; IPv4-mapped IPv6 addresses are shown as IPv4. */
  dstIP: 'string',
  /** Destination port. */
  dstPort: 'int',
  /** Address family of the socket: "AF_INET" or "AF_INET6". */
  family: 'string',
  /** DNS names that resolved to dstIP in replies seen before the connect: question name first, then the CNAME chain; [] when none. */
  results: 'string[]',
  /** Probe that captured the connect: lsm, fentry, kprobe, cgroup or tracepoint. */
  probe: 'string',
  /** Local IP address the kernel chose for the socket (from its leaving SYN_SENT); null when not known (no state change seen, or the connect failed in the syscall). Since v2. */
  srcIP: 'string?',
  /** Local port the kernel chose (see srcIP). Since v2. */
  srcPort: 'int?',
  /** What became of the connect: established, refused, reset, timeout, unreachable, error, or in_progress (no outcome within enrich.outcomeWaitMs); null when the outcome join is off. Since v2. */
  outcome: 'string?',
  /** Symbolic errno of a failed connect (e.g. "ECONNREFUSED": the numbers differ between architectures); null when none. Since v2. */
  errno: 'string?',
  /** Microseconds from connect() to the outcome (boot clock); null for in_progress. Since v2. */
  outcomeDelayUs: 'long?',
  /** Community ID flow hash v1 (seed 0) of srcIP, srcPort, dstIP, dstPort, TCP; null when srcIP/srcPort are not known. Since v2. */
  communityId: 'string?',
} as const satisfies Shape;

export type NetTCPConnect = FromShape<typeof NET_TCP_CONNECT_SHAPE>;
export type NetTCPConnectShape = Shape;
export type { LeafKind };
