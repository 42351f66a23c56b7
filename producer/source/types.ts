// Typed capture events, decoded from the kernel records (bpf/src/conntrail.h)
// by decode.ts. Addresses are canonical text; IPv4-mapped IPv6 is shown as IPv4.
import type { ProbeName } from 'bpf-native-loader';

export type { ProbeName };

export interface ConnectEvent {
  kind: 'connect';
  /** CLOCK_BOOTTIME of the connect() call, ns. */
  ktimeNs: bigint;
  /** Wall clock, ns since the epoch (ktimeNs + the boot-to-realtime offset). */
  timestampNs: bigint;
  pid: number;
  tid: number;
  uid: number;
  gid: number;
  comm: string;
  cgroupId: bigint;
  /** Network-namespace cookie (the same id DnsReplyEvent.netnsCookie carries). */
  netnsCookie: bigint;
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
  /** Socket cookie, 0n when the probe cannot give it (see socketCookieValid). */
  socketCookie: bigint;
  socketCookieValid: boolean;
  probe: ProbeName;
  /** The address was read from user memory (tracepoint rung): open to TOCTOU races. */
  toctou: boolean;
  /** Parent's pid from the kernel at connect time (0 if unknown); process context may refine it. */
  ppid: number;
  /** Process start (group leader's start_boottime, ns); with pid it identifies the process. */
  procStartNs: bigint;
  /** Filled by CaptureSource when process context is on; null when unknown (e.g. the process exited). */
  exe?: string | null;
  containerId?: string | null;
}

export interface DnsReplyEvent {
  kind: 'dns';
  ktimeNs: bigint;
  timestampNs: bigint;
  /** Network-namespace cookie of the receiving side (comparable with ConnectEvent.netnsCookie). */
  netnsCookie: bigint;
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

export type CaptureEvent = ConnectEvent | DnsReplyEvent;

/** Why a record was skipped by the decoder. */
export const MALFORMED_REASONS = ['shortFrame', 'shortRecord', 'badSize', 'unknownKind', 'unknownProbe', 'badPayloadLength'] as const;
export type MalformedReason = (typeof MALFORMED_REASONS)[number];
