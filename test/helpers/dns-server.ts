// A small authoritative DNS server for tests, on loopback (default
// 127.0.0.153:53, UDP and TCP). Tests configure records (A, AAAA, CNAME chains,
// per-record TTLs) and it answers queries, following CNAMEs like a resolver.
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, connect as tcpConnect, isIPv6 } from 'node:net';
import type { Server, Socket } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, Packet, Question } from 'dns-packet';

export interface DnsRecordSpec {
  name: string;
  type: 'A' | 'AAAA' | 'CNAME';
  /** Address, or the CNAME target. */
  data: string;
  /** Seconds (default 300). */
  ttl?: number;
}

export interface DnsServerOptions {
  /** Default 127.0.0.153. */
  address?: string;
  /** Default 53. */
  port?: number;
  records?: DnsRecordSpec[];
  /** Also listen on TCP (default true). */
  tcp?: boolean;
}

export interface ReceivedQuery {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
}

export class TestDnsServer {
  readonly address: string;
  readonly port: number;
  readonly queries: ReceivedQuery[] = [];
  #records: DnsRecordSpec[];
  #udp: UdpSocket;
  #tcp: Server | undefined;
  #conns = new Set<Socket>();

  private constructor(address: string, port: number, records: DnsRecordSpec[], udp: UdpSocket, tcp: Server | undefined) {
    this.address = address;
    this.port = port;
    this.#records = records;
    this.#udp = udp;
    this.#tcp = tcp;
  }

  static async start(opts: DnsServerOptions = {}): Promise<TestDnsServer> {
    const address = opts.address ?? '127.0.0.153';
    const port = opts.port ?? 53;
    const udp = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
    udp.bind(port, address);
    await once(udp, 'listening');
    let tcp: Server | undefined;
    if (opts.tcp !== false) {
      tcp = createServer();
      tcp.listen(port, address);
      try {
        await once(tcp, 'listening');
      } catch (err) {
        udp.close();
        throw err;
      }
    }
    const server = new TestDnsServer(address, port, [...(opts.records ?? [])], udp, tcp);
    udp.on('message', (msg, rinfo) => {
      const reply = server.#answer(msg, 'udp');
      if (reply) udp.send(reply, rinfo.port, rinfo.address);
    });
    tcp?.on('connection', (sock) => server.#serveTcp(sock));
    return server;
  }

  /** Replaces the records. */
  setRecords(records: DnsRecordSpec[]): void {
    this.#records = [...records];
  }

  addRecords(...records: DnsRecordSpec[]): void {
    this.#records.push(...records);
  }

  /** The reply this server gives to a question (also used by tests to compare). */
  reply(id: number, q: Question): Packet {
    const answers: Answer[] = [];
    let name = q.name.toLowerCase();
    const seen = new Set<string>();
    for (;;) {
      const cname = this.#records.find((r) => r.type === 'CNAME' && r.name.toLowerCase() === name);
      if (!cname || q.type === 'CNAME' || seen.has(name)) break;
      seen.add(name);
      answers.push({ type: 'CNAME', class: 'IN', name, ttl: cname.ttl ?? 300, data: cname.data });
      name = cname.data.toLowerCase();
    }
    for (const r of this.#records) {
      if (r.type === q.type && r.name.toLowerCase() === name) {
        answers.push({ type: r.type, class: 'IN', name, ttl: r.ttl ?? 300, data: r.data } as Answer);
      }
    }
    const known = answers.length > 0 || this.#records.some((r) => r.name.toLowerCase() === name);
    return {
      type: 'response',
      id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3 /* NXDOMAIN */),
      questions: [q],
      answers,
    };
  }

  #answer(msg: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined {
    let query: Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return undefined;
    }
    const q = query.questions?.[0];
    if (!q) return undefined;
    this.queries.push({ name: q.name, type: q.type, transport });
    return dnsPacket.encode(this.reply(query.id ?? 0, q));
  }

  #serveTcp(sock: Socket): void {
    this.#conns.add(sock);
    sock.on('close', () => this.#conns.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const reply = this.#answer(buf.subarray(2, 2 + len), 'tcp');
        buf = buf.subarray(2 + len);
        if (reply) {
          const framed = Buffer.alloc(2 + reply.length);
          framed.writeUInt16BE(reply.length, 0);
          reply.copy(framed, 2);
          sock.write(framed);
        }
      }
    });
  }

  async close(): Promise<void> {
    for (const c of this.#conns) c.destroy();
    await new Promise<void>((resolve) => this.#udp.close(() => resolve()));
    if (this.#tcp) await new Promise<void>((resolve) => this.#tcp!.close(() => resolve()));
  }
}

export function startDnsServer(opts?: DnsServerOptions): Promise<TestDnsServer> {
  return TestDnsServer.start(opts);
}

/** Sends one query to a server and returns the decoded reply (UDP or TCP). */
export async function queryDns(server: { address: string; port: number }, name: string, type: 'A' | 'AAAA' | 'CNAME' = 'A',
  transport: 'udp' | 'tcp' = 'udp', timeoutMs = 2000): Promise<Packet> {
  const id = Math.floor(Math.random() * 65535);
  const query = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
  if (transport === 'udp') {
    const sock = createSocket(isIPv6(server.address) ? 'udp6' : 'udp4');
    try {
      sock.send(query, server.port, server.address);
      const timer = AbortSignal.timeout(timeoutMs);
      const [msg] = (await once(sock, 'message', { signal: timer })) as [Buffer];
      return dnsPacket.decode(msg);
    } finally {
      sock.close();
    }
  }
  const sock = tcpConnect(server.port, server.address);
  try {
    await once(sock, 'connect');
    const framed = Buffer.alloc(2 + query.length);
    framed.writeUInt16BE(query.length, 0);
    query.copy(framed, 2);
    sock.write(framed);
    let buf = Buffer.alloc(0);
    const signal = AbortSignal.timeout(timeoutMs);
    while (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) {
      const [chunk] = (await once(sock, 'data', { signal })) as [Buffer];
      buf = Buffer.concat([buf, chunk]);
    }
    return dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
  } finally {
    sock.destroy();
  }
}
