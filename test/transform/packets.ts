// Helpers to build DNS payloads and capture events for the transform tests.
import dnsPacket from 'dns-packet';
import type { ConnectInput, DnsReplyInput } from '../../producer/transform/enrich.ts';

export type Rec = { type: 'A' | 'AAAA' | 'CNAME' | 'TXT' | 'MX'; name: string; data: string; ttl?: number };

export function answer(r: Rec): dnsPacket.Answer {
  if (r.type === 'TXT') return { type: 'TXT', name: r.name, ttl: r.ttl ?? 300, data: r.data };
  if (r.type === 'MX') return { type: 'MX', name: r.name, ttl: r.ttl ?? 300, data: { exchange: r.data, preference: 10 } };
  return { type: r.type, name: r.name, ttl: r.ttl ?? 300, data: r.data } as dnsPacket.Answer;
}

export interface ReplyOpts {
  flags?: number;
  type?: 'query' | 'response';
  qtype?: dnsPacket.RecordType;
  questions?: dnsPacket.Question[];
  additionals?: dnsPacket.Answer[];
}

/** A DNS response to `question` with `answers`. */
export function reply(question: string, answers: Rec[], opts: ReplyOpts = {}): Buffer {
  return dnsPacket.encode({
    type: opts.type ?? 'response',
    id: 4242,
    flags: opts.flags ?? dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    questions: opts.questions ?? [{ type: opts.qtype ?? 'A', name: question }],
    answers: answers.map(answer),
    additionals: opts.additionals ?? [],
  });
}

/** With a 2-byte length prefix, as on TCP. */
export function tcpFrame(...msgs: Buffer[]): Buffer {
  return Buffer.concat(msgs.map((m) => {
    const p = Buffer.alloc(2);
    p.writeUInt16BE(m.length);
    return Buffer.concat([p, m]);
  }));
}

export const S = 1_000_000_000;

export function dnsEvent(payload: Buffer, ktimeNs: number, extra: Partial<DnsReplyInput> = {}): DnsReplyInput {
  return {
    kind: 'dns',
    ktimeNs,
    netnsCookie: 1,
    transport: 'udp',
    payload,
    payloadLength: payload.length,
    truncated: false,
    ...extra,
  };
}

export function connectEvent(dstIP: string, ktimeNs: number, extra: Partial<ConnectInput> = {}): ConnectInput {
  return {
    kind: 'connect',
    ktimeNs,
    timestampUs: 1_700_000_000_000_000 + Math.floor(ktimeNs / 1000),
    pid: 1234,
    tid: 1235,
    uid: 1000,
    gid: 1000,
    comm: 'curl',
    cgroupId: 77,
    netnsCookie: 1,
    family: dstIP.includes(':') ? 10 : 2,
    sockType: 1,
    dstIP,
    dstPort: 443,
    probe: 'cgroup',
    ...extra,
  };
}
