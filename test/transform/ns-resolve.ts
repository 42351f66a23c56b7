// Run inside another network namespace by results-live.test.ts: serve
// NAME -> IP from a DNS server on this namespace's loopback, resolve it (the
// reply is seen in this namespace), connect to IP there, and print
// {"pid", "port"} as one JSON line.
import { connectOnce, listen } from './net-helpers.ts';
import { queryDns, startDnsServer } from '../helpers/dns-server.ts';

const [name, ip] = process.argv.slice(2);
if (!name || !ip) throw new Error('usage: ns-resolve.ts NAME IP');
const dns = await startDnsServer({ records: [{ name, type: 'A', data: ip, ttl: 300 }], tcp: false });
const reply = await queryDns(dns, name, 'A');
if (!reply.answers?.length) throw new Error('no answer');
const l = await listen(ip);
await connectOnce(ip, l.port);
await l.close();
await dns.close();
process.stdout.write(`${JSON.stringify({ pid: process.pid, port: l.port })}\n`);
