// A DNS reply flood, as a DNS tunnel or a random-subdomain scan looks from the
// host: replies FROM UDP port 53 on loopback (a "server" bound to
// 127.0.0.1:53: conntrail's kernel program copies every UDP/TCP packet from
// port 53 a local socket receives) to a local client socket, each for a name
// never seen before: question r<i>.flood.example, a CNAME to e<i>.cdn.example,
// and an A record to an address of its own (10.0.0.0/8 from <i>). Each reply
// adds 2 names and 1 address to conntrail's DNS cache (--addresses K: K A
// records, K addresses). Built with dns-packet.
//
//   node bench/tools/dns-flood.ts [--count N] [--rate R] [--start I] [--ttl S] [--addresses K]
//
//   --count N   replies to send (default 80000; 32,768 fill the cache's default bound of
//               65,536 names, the names of the others evict older ones, as in a real flood)
//   --rate R    replies per second (default 0: flat out)
//   --start I   first i (default 0); another run with a later start sends new names
//   --ttl S     TTL of every record, seconds (default 3600: nothing expires during a bench)
//   --addresses K  A records per reply, each to its own address (default 1; 2 fills the
//               cache's 65,536 addresses as its 65,536 names fill)
//   --server A  the server's address (default 127.0.0.1; port 53 needs root or CAP_NET_BIND_SERVICE)
//
// Prints one line: sent=<n> received=<n> seconds=<s> rate=<n/s> pid=<pid>
// (received: what the client socket read; the kernel program sees every reply
// the socket is given, read or not, since it runs before the receive buffer).
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import dnsPacket from 'dns-packet';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '80000' },
    rate: { type: 'string', default: '0' },
    start: { type: 'string', default: '0' },
    ttl: { type: 'string', default: '3600' },
    server: { type: 'string', default: '127.0.0.1' },
    addresses: { type: 'string', default: '1' },
  },
});
const count = Number(values.count);
const rate = Number(values.rate);
const start = Number(values.start);
const ttl = Number(values.ttl);
const perReply = Number(values.addresses);
if (!Number.isInteger(perReply) || perReply < 1 || perReply > 16) throw new Error(`--addresses must be from 1 to 16, got ${values.addresses}`);
for (const [k, v] of Object.entries({ count, rate, start, ttl })) {
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${k} must be a whole number, got ${String(values[k as keyof typeof values])}`);
}

/** The reply for flood name i: its addresses are 10.0.0.0/8 + i * perReply + k. */
function floodReply(i: number): Buffer {
  const q = `r${i}.flood.example`;
  const target = `e${i}.cdn.example`;
  const answers: dnsPacket.Answer[] = [{ type: 'CNAME', name: q, ttl, data: target }];
  for (let k = 0; k < perReply; k++) {
    const a = 0x0a000000 + ((i * perReply + k) % 0x1000000);
    answers.push({ type: 'A', name: target, ttl, data: `${a >>> 24}.${(a >> 16) & 255}.${(a >> 8) & 255}.${a & 255}` });
  }
  return dnsPacket.encode({
    type: 'response', id: i & 0xffff, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    questions: [{ type: 'A', name: q }], answers,
  });
}

const server = createSocket('udp4');
const client = createSocket('udp4');
server.bind(53, values.server);
await once(server, 'listening');
client.bind(0, '127.0.0.1');
await once(client, 'listening');
const clientPort = (client.address() as AddressInfo).port;
let received = 0;
client.on('message', () => { received++; });

const MAX_IN_FLIGHT = 512; // sends not yet handed to the kernel
let sent = 0;
let inFlight = 0;
let next = start;
const end = start + count;
const t0 = performance.now();
let wake: (() => void) | null = null;
const onSent = (err: Error | null): void => {
  inFlight--;
  if (err) throw err;
  sent++;
  if (wake && inFlight < MAX_IN_FLIGHT / 2) { const w = wake; wake = null; w(); }
};
while (next < end) {
  // paced: as many as the rate allows by now (flat out: as many as the window allows)
  const due = rate > 0 ? Math.min(end, start + Math.floor((rate * (performance.now() - t0)) / 1000) + 1) : end;
  while (next < due && inFlight < MAX_IN_FLIGHT) {
    inFlight++;
    server.send(floodReply(next++), clientPort, '127.0.0.1', onSent);
  }
  if (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((r) => { wake = r; });
  else if (next < end) await new Promise((r) => setTimeout(r, 1));
}
while (inFlight > 0) await new Promise<void>((r) => { wake = r; setTimeout(r, 5); });
const seconds = (performance.now() - t0) / 1000;
await new Promise((r) => setTimeout(r, 100)); // the client reads what is still queued
server.close();
client.close();
process.stdout.write(`sent=${sent} received=${received} seconds=${seconds.toFixed(3)} rate=${Math.round(sent / seconds)} pid=${process.pid}\n`);
