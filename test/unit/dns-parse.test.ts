import test from 'ava';
import dnsPacket from 'dns-packet';
import { parseDnsMessage, parseDnsPayload, normalizeName } from '../../producer/transform/dns/parse.ts';
import type { DnsParseError, ParsedReply } from '../../producer/transform/dns/parse.ts';
import { reply, tcpFrame } from '../transform/packets.ts';

function ok(t: import('ava').ExecutionContext, buf: Buffer, cut = false): ParsedReply {
  const r = parseDnsMessage(buf, cut);
  if (!r.ok) throw new Error(`expected a reply, got ${r.reason}`);
  t.pass();
  return r.reply;
}
const reason = (buf: Buffer, cut = false): DnsParseError | 'ok' => {
  const r = parseDnsMessage(buf, cut);
  return r.ok ? 'ok' : r.reason;
};

test('CNAME chain: question first, links in chain order, A records kept', (t) => {
  const r = ok(t, reply('api.example.test', [
    { type: 'CNAME', name: 'api.example.test', data: 'edge.example.test', ttl: 5 },
    { type: 'A', name: 'edge.example.test', data: '127.0.0.77', ttl: 300 },
  ]));
  t.is(r.question, 'api.example.test');
  t.deepEqual(r.cnames, [{ name: 'api.example.test', target: 'edge.example.test', ttl: 5 }]);
  t.deepEqual(r.addresses, [{ name: 'edge.example.test', ip: '127.0.0.77', ttl: 300 }]);
  t.is(r.offChain, 0);
  t.false(r.salvaged);
});

test('answers out of order still form the chain', (t) => {
  const r = ok(t, reply('a.test', [
    { type: 'A', name: 'c.test', data: '10.0.0.1' },
    { type: 'CNAME', name: 'b.test', data: 'c.test' },
    { type: 'CNAME', name: 'a.test', data: 'b.test' },
  ]));
  t.deepEqual(r.cnames.map((l) => `${l.name}>${l.target}`), ['a.test>b.test', 'b.test>c.test']);
  t.deepEqual(r.addresses.map((a) => a.ip), ['10.0.0.1']);
});

test('AAAA answers are canonical text; IPv4-mapped becomes IPv4', (t) => {
  const r = ok(t, reply('v6.test', [
    { type: 'AAAA', name: 'v6.test', data: 'FD00:0:0:0:0:0:0:1' },
    { type: 'AAAA', name: 'v6.test', data: '1:0:0:1:0:0:0:1' },
    { type: 'AAAA', name: 'v6.test', data: '::ffff:1.2.3.4' },
  ], { qtype: 'AAAA' }));
  t.deepEqual(r.addresses.map((a) => a.ip), ['fd00::1', '1:0:0:1::1', '1.2.3.4']);
});

test('names are lower-cased (0x20 randomisation) and lose the final dot', (t) => {
  const r = ok(t, reply('API.Example.TEST', [
    { type: 'CNAME', name: 'Api.EXAMPLE.test', data: 'EDGE.example.test' },
    { type: 'A', name: 'edge.EXAMPLE.test', data: '10.1.1.1' },
  ]));
  t.is(r.question, 'api.example.test');
  t.is(r.cnames[0]!.target, 'edge.example.test');
  t.is(r.addresses.length, 1);
  t.is(normalizeName('Foo.Bar.'), 'foo.bar');
  t.is(normalizeName('.'), '.');
});

test('other record types are ignored; off-chain A/CNAME are dropped and counted', (t) => {
  const r = ok(t, reply('a.test', [
    { type: 'TXT', name: 'a.test', data: 'hello' },
    { type: 'MX', name: 'a.test', data: 'mx.a.test' },
    { type: 'A', name: 'a.test', data: '10.0.0.1' },
    { type: 'A', name: 'evil.test', data: '10.6.6.6' },
    { type: 'CNAME', name: 'other.test', data: 'a.test' },
  ]));
  t.deepEqual(r.addresses.map((a) => `${a.name}=${a.ip}`), ['a.test=10.0.0.1']);
  t.deepEqual(r.cnames, []);
  t.is(r.offChain, 2);
});

test('CNAME loops stop', (t) => {
  const r = ok(t, reply('a.test', [
    { type: 'CNAME', name: 'a.test', data: 'b.test' },
    { type: 'CNAME', name: 'b.test', data: 'a.test' },
  ]));
  t.is(r.cnames.length, 1);
});

test('a reply with only a CNAME chain is usable (the A may come in a later reply)', (t) => {
  const r = ok(t, reply('a.test', [{ type: 'CNAME', name: 'a.test', data: 'b.test' }], { qtype: 'HTTPS' as dnsPacket.RecordType }));
  t.is(r.cnames.length, 1);
  t.is(r.addresses.length, 0);
});

test('rejections are counted by reason, never thrown', (t) => {
  const a = [{ type: 'A' as const, name: 'a.test', data: '10.0.0.1' }];
  t.is(reason(reply('a.test', a, { type: 'query' })), 'not_response');
  t.is(reason(reply('a.test', a, { flags: 3 })), 'rcode_nonzero'); // NXDOMAIN
  t.is(reason(reply('a.test', a, { flags: 2 })), 'rcode_nonzero'); // SERVFAIL
  t.is(reason(reply('a.test', a, { flags: dnsPacket.TRUNCATED_RESPONSE })), 'tc_flag');
  t.is(reason(reply('a.test', a, { flags: 2 << 11 })), 'not_query'); // opcode STATUS
  t.is(reason(reply('a.test', [])), 'ok'); // NODATA: a usable reply (test/unit/dns-nodata.test.ts)
  t.is(reason(reply('a.test', [{ type: 'A', name: 'elsewhere.test', data: '10.0.0.9' }])), 'off_chain');
  t.is(reason(reply('a.test', a, { questions: [] })), 'bad_question_count');
  t.is(reason(reply('a.test', a, { questions: [{ type: 'A', name: 'a.test' }, { type: 'A', name: 'b.test' }] })), 'bad_question_count');
  t.is(reason(Buffer.alloc(0)), 'malformed');
  t.is(reason(Buffer.alloc(5)), 'malformed');
  t.is(reason(Buffer.alloc(5), true), 'truncated');
  const good = reply('a.test', a);
  t.is(reason(good.subarray(0, good.length - 3)), 'malformed');
  t.is(reason(good.subarray(0, 20), true), 'truncated');
  // Garbage name pointer
  const bad = Buffer.from(good);
  bad[12] = 0xc0;
  bad[13] = 0xff;
  t.is(reason(bad), 'malformed');
});

test('a reply cut by the capture keeps the answers that arrived whole', (t) => {
  const full = reply('a.test', [
    { type: 'CNAME', name: 'a.test', data: 'b.test' },
    { type: 'A', name: 'b.test', data: '10.0.0.1' },
    { type: 'A', name: 'b.test', data: '10.0.0.2' },
  ], { additionals: [{ type: 'TXT', name: 'pad.test', ttl: 1, data: 'x'.repeat(200) }] });
  // Cut in the additional section: all answers are whole.
  const r1 = ok(t, full.subarray(0, full.length - 100), true);
  t.deepEqual(r1.addresses.map((a) => a.ip), ['10.0.0.1', '10.0.0.2']);
  // The additional section is never decoded, so the reply is whole as far as we care.
  t.false(r1.salvaged);
  // Cut inside the last A record.
  const noPad = reply('a.test', [
    { type: 'CNAME', name: 'a.test', data: 'b.test' },
    { type: 'A', name: 'b.test', data: '10.0.0.1' },
    { type: 'A', name: 'b.test', data: '10.0.0.2' },
  ]);
  const r2 = ok(t, noPad.subarray(0, noPad.length - 2), true);
  t.deepEqual(r2.addresses.map((a) => a.ip), ['10.0.0.1']);
  t.true(r2.salvaged);
  // The same bytes without the cut flag are malformed.
  t.is(reason(noPad.subarray(0, noPad.length - 2)), 'malformed');
});

test('TCP payloads: length prefix, several messages in one segment, short segment', (t) => {
  const m1 = reply('a.test', [{ type: 'A', name: 'a.test', data: '10.0.0.1' }]);
  const m2 = reply('b.test', [{ type: 'AAAA', name: 'b.test', data: 'fd00::2' }]);
  const got: string[] = [];
  const errs: string[] = [];
  const run = (buf: Buffer, cut = false): void => {
    got.length = 0;
    errs.length = 0;
    parseDnsPayload(buf, 'tcp', cut, (r) => got.push(`${r.question}=${r.addresses.map((a) => a.ip).join(',')}`), (e) => errs.push(e));
  };
  run(tcpFrame(m1));
  t.deepEqual(got, ['a.test=10.0.0.1']);
  t.deepEqual(errs, []);
  run(tcpFrame(m1, m2));
  t.deepEqual(got, ['a.test=10.0.0.1', 'b.test=fd00::2']);
  run(tcpFrame(m1).subarray(0, 10));
  t.deepEqual(errs, ['truncated']);
  run(Buffer.from([0]));
  t.deepEqual(errs, ['malformed']);
  // The same payload read as UDP (prefix taken for the header) is not used.
  errs.length = 0;
  parseDnsPayload(tcpFrame(m1), 'udp', false, () => t.fail(), (e) => errs.push(e));
  t.is(errs.length, 1);
});
