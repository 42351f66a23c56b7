// Typed capture events, decoded from the kernel records (bpf/src/conntrail.h)
// by decode.ts. Addresses are canonical text; IPv4-mapped IPv6 is shown as IPv4.
// The kernel's 64-bit fields are JS numbers (no BigInt on the per-record path):
// ids and cookies are counters far below 2^53; boot-clock ns are exact for 104
// days of uptime (2^53 ns) and within a few ns after; the wall clock is in µs
// since the epoch (exact: the ns would need 61 bits).
import type { ProbeName } from 'bpf-native-loader';
import type { ProcessContext } from './process-context.ts';

export type { ProbeName };

export interface ConnectEvent {
  kind: 'connect';
  /** CLOCK_BOOTTIME of the connect() call, ns. */
  ktimeNs: number;
  /** Wall clock, µs since the epoch (ktimeNs + the boot-to-realtime offset, rounded down to the µs; exact). */
  timestampUs: number;
  pid: number;
  tid: number;
  uid: number;
  gid: number;
  comm: string;
  cgroupId: number;
  /** Network-namespace cookie (the same id DnsReplyEvent.netnsCookie carries). */
  netnsCookie: number;
  /** AF_INET = 2, AF_INET6 = 10 (an IPv4-mapped destination keeps 10). */
  family: number;
  /** SOCK_STREAM = 1, SOCK_DGRAM = 2, ... */
  sockType: number;
  /** IPPROTO_TCP = 6, IPPROTO_UDP = 17, ... */
  protocol: number;
  /** 'tcp' for a TCP connect, 'udp' for a UDP connect() (no packet sent), 'other' otherwise. */
  transport: 'tcp' | 'udp' | 'other';
  dstIP: string;
  dstPort: number;
  /** Socket cookie, 0 when the probe cannot give it (see socketCookieValid). */
  socketCookie: number;
  socketCookieValid: boolean;
  probe: ProbeName;
  /** The address was read from user memory (tracepoint rung): open to TOCTOU races. */
  toctou: boolean;
  /** Parent's pid from the kernel at connect time (0 if unknown); process context may refine it. */
  ppid: number;
  /** Process start (group leader's start_boottime, ns); with pid it identifies the process. */
  procStartNs: number;
  /** Filled by CaptureSource when process context is on; null when unknown (e.g. the process exited). */
  exe?: string | null;
  containerId?: string | null;
  /** The whole process context (the cached object, shared by the process's events; read-only). */
  context?: ProcessContext;
}

export interface DnsReplyEvent {
  kind: 'dns';
  /** CLOCK_BOOTTIME of the reply, ns. */
  ktimeNs: number;
  /** Wall clock, µs since the epoch (see ConnectEvent.timestampUs). */
  timestampUs: number;
  /** Network-namespace cookie of the receiving side (comparable with ConnectEvent.netnsCookie). */
  netnsCookie: number;
  family: number;
  transport: 'udp' | 'tcp';
  /** The captured DNS payload (a copy; for TCP, a segment: starts with the 2-byte length if it is the first). */
  payload: Buffer;
  /** Payload length on the wire. */
  payloadLength: number;
  /** payload.length < payloadLength (the capture cap or the packet cut it). */
  truncated: boolean;
  srcIP: string;
  srcPort: number;
  dstIP: string;
  dstPort: number;
  ifindex: number;
}

/**
 * What became of a connect (struct ct_outcome): a TCP socket left SYN_SENT
 * (source 'state': joined by socket cookie; srcIP/srcPort are the address the
 * kernel chose), or connect() returned an error other than "in progress"
 * (source 'syscall': joined by pid/tid to that thread's latest connect).
 */
export interface ConnectOutcomeEvent {
  kind: 'outcome';
  source: 'state' | 'syscall';
  /** CLOCK_BOOTTIME when the outcome happened, ns. */
  ktimeNs: number;
  /** state: the socket's cookie (valid when socketCookieValid); syscall: 0. */
  socketCookie: number;
  socketCookieValid: boolean;
  /** syscall: the caller; state: 0 (the state change runs in softirq context). */
  pid: number;
  tid: number;
  /** Positive errno: the socket's sk_err (state) or -ret (syscall); 0 when none. */
  errno: number;
  /** state: the socket reached ESTABLISHED (else it closed); syscall: false. */
  established: boolean;
  /** state: AF_INET / AF_INET6; syscall: 0. */
  family: number;
  /** state: canonical text, IPv4-mapped shown as IPv4; syscall: ''. */
  srcIP: string;
  srcPort: number;
  dstIP: string;
  dstPort: number;
  /** state, with a source port: the flow's Community ID v1 (from the record's address bytes); else null. */
  communityId: string | null;
}

/**
 * A process image started (struct ct_exec, sched_process_exec): what /proc
 * would say of it, kept for processes gone before /proc is read.
 */
export interface ProcessExecEvent {
  kind: 'exec';
  ktimeNs: number;
  pid: number;
  ppid: number;
  /** The connect records' procStartNs of this process (exec keeps the start time). */
  procStartNs: number;
  uid: number;
  gid: number;
  comm: string;
  /** The path given to execve (not resolved: may be relative). */
  filename: string;
  /** argv as /proc/<pid>/cmdline has it (NUL-separated), cut at the capture's execArgsCap. */
  args: Buffer;
  /** argv's whole size in bytes (more than args.length when cut). */
  argsSize: number;
}

export type CaptureEvent = ConnectEvent | DnsReplyEvent | ConnectOutcomeEvent | ProcessExecEvent;

/** Why a record was skipped by the decoder. */
export const MALFORMED_REASONS = ['shortFrame', 'shortRecord', 'badSize', 'unknownKind', 'unknownProbe', 'badPayloadLength'] as const;
export type MalformedReason = (typeof MALFORMED_REASONS)[number];
