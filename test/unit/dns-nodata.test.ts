// NODATA (a NOERROR reply with no answer for the asked type: an AAAA query for
// an IPv4-only name, an HTTPS or TXT query) is a normal reply, not an error:
// it parses, is counted as dnsRepliesNoData (within dnsRepliesParsed), stores
// nothing in the cache, and never shows under the stats line's drops.
import test from 'ava';
import dnsPacket from 'dns-packet';
import { parseDnsMessage } from '../../producer/transform/dns/parse.ts';
import { Enricher } from '../../producer/transform/enrich.ts';
import { StatsReporter } from '../../producer/stats.ts';
import type { CaptureCounters } from '../../producer/source/capture.ts';
import type { SinkStats } from '../../producer/sink/sink.ts';
import { dnsEvent, S } from '../transform/packets.ts';

const host = { name: 'nodata-test', machineId: null, bootId: null } as unknown as ConstructorParameters<typeof Enricher>[0]['host'];

/** A response as a resolver sends it, built by dns-packet: flags, one question, answers, authority (the SOA of a negative answer). */
function response(qtype: dnsPacket.RecordType, answers: dnsPacket.Answer[], opts: { rcode?: number; authorities?: dnsPacket.Answer[] } = {}): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id: 7,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (opts.rcode ?? 0),
    questions: [{ type: qtype, name: 'v4only.example.test' }],
    answers,
    authorities: opts.authorities ?? [],
  });
}
const soa: dnsPacket.Answer = {
  type: 'SOA', name: 'example.test', ttl: 300,
  data: { mname: 'ns.example.test', rname: 'hostmaster.example.test', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60 },
};

test('NODATA parses as a reply with nothing to cache', (t) => {
  const cases: [string, Buffer][] = [
    ['AAAA for an IPv4-only name, SOA in authority', response('AAAA', [], { authorities: [soa] })],
    ['no answer and no authority', response('A', [])],
    ['HTTPS query answered with a TXT record only', response('HTTPS' as dnsPacket.RecordType, [{ type: 'TXT', name: 'v4only.example.test', ttl: 60, data: 'v=x' }])],
  ];
  for (const [what, buf] of cases) {
    const r = parseDnsMessage(buf, false);
    if (!r.ok) {
      t.fail(`${what}: ${r.reason}`);
      continue;
    }
    t.true(r.reply.nodata, what);
    t.is(r.reply.question, 'v4only.example.test', what);
    t.deepEqual([r.reply.cnames, r.reply.addresses], [[], []], what);
  }
  // an answered question is not NODATA
  const a = parseDnsMessage(response('A', [{ type: 'A', name: 'v4only.example.test', ttl: 60, data: '192.0.2.1' }]), false);
  t.true(a.ok && a.reply.nodata === false);
  // NXDOMAIN is not NODATA (a nonzero rcode, counted as before)
  const nx = parseDnsMessage(response('A', [], { rcode: 3, authorities: [soa] }), false);
  t.deepEqual(nx, { ok: false, reason: 'rcode_nonzero' });
});

test('Enricher: NODATA counted as dnsRepliesNoData, not as an error, nothing cached; the stats line shows no DNS drop', (t) => {
  const e = new Enricher({ host });
  const out: never[] = [];
  e.process([
    dnsEvent(response('AAAA', [], { authorities: [soa] }), 1 * S),
    dnsEvent(response('AAAA', [], { authorities: [soa] }), 2 * S),
    dnsEvent(response('A', [{ type: 'A', name: 'v4only.example.test', ttl: 60, data: '192.0.2.1' }]), 3 * S),
  ], out);
  const s = e.stats();
  t.is(s.dnsReplies, 3);
  t.is(s.dnsRepliesParsed, 3);
  t.is(s.dnsRepliesNoData, 2);
  t.deepEqual(Object.values(s.dnsErrors).filter((n) => n !== 0), []);
  t.is(s.cache.names, 1, 'only the answered reply stored a name');

  const capture = { received: { connect: 0, dns: 3, byProbe: {} }, malformed: {}, drops: {}, kernel: { outcomeExcluded: 0 }, dnsCapture: undefined } as unknown as CaptureCounters;
  const sink = {
    published: { records: 0 }, drops: {}, queue: { records: 0, bytes: 0 }, lastPublishAt: null, lastError: null,
    ackLatencyMs: { samples: 0, p50: 0, p99: 0, max: 0 },
  } as unknown as SinkStats;
  const line = new StatsReporter(null as never, () => ({ capture, enrich: s, sink })).line() as {
    drops: { dns: Record<string, number> }; totals: { dnsNoData: number };
  };
  t.deepEqual(line.drops.dns, {});
  t.is(line.totals.dnsNoData, 2);
});
