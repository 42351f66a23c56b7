// Community ID flow hash, version 1 (https://github.com/corelight/community-id-spec):
// "1:" + base64(sha1(seed, src addr, dst addr, proto, 0, src port, dst port)),
// the endpoints ordered so both directions of a flow hash alike. Zeek, Suricata,
// Kunai and Elastic write the same value, so records can be joined across tools.
import { createHash } from 'node:crypto';
import { writeIpBytes } from '../model/ip.ts';

export const IPPROTO_TCP = 6;

// Scratch for the two addresses (no allocation per call but the hash).
const A = Buffer.alloc(16);
const B = Buffer.alloc(16);
const HEAD = Buffer.alloc(2);
const TAIL = Buffer.alloc(6);

/**
 * Community ID v1 of a flow with ports (TCP, UDP, SCTP), or null when an
 * address is not IP text or the two are of different families.
 */
export function communityId(srcIP: string, srcPort: number, dstIP: string, dstPort: number, proto = IPPROTO_TCP, seed = 0): string | null {
  const n = writeIpBytes(srcIP, A, 0);
  if (n === 0 || writeIpBytes(dstIP, B, 0) !== n) return null;
  const order = Buffer.compare(A.subarray(0, n), B.subarray(0, n));
  // the smaller endpoint (address, then port) goes first
  const swap = order > 0 || (order === 0 && srcPort > dstPort);
  HEAD.writeUInt16BE(seed & 0xffff, 0);
  TAIL[0] = proto & 0xff;
  TAIL[1] = 0;
  TAIL.writeUInt16BE((swap ? dstPort : srcPort) & 0xffff, 2);
  TAIL.writeUInt16BE((swap ? srcPort : dstPort) & 0xffff, 4);
  const h = createHash('sha1').update(HEAD);
  if (swap) h.update(B.subarray(0, n)).update(A.subarray(0, n));
  else h.update(A.subarray(0, n)).update(B.subarray(0, n));
  return '1:' + h.update(TAIL).digest('base64');
}
