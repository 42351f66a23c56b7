// Canonical text of IP addresses, so that the DNS cache (addresses from A/AAAA
// answers) and connect records (addresses from the kernel) key alike.
//
// Canonical: IPv4 dotted decimal; IPv6 as RFC 5952 (lower case, no leading
// zeros, the longest run of two or more zero groups compressed to "::", the
// first one on a tie); IPv4-mapped IPv6 (::ffff:a.b.c.d, in either spelling)
// as the plain IPv4 address.

const HEX = /^[0-9a-fA-F]{1,4}$/;

/** Canonical text of an IPv4 or IPv6 address, or null when `text` is not one. */
export function canonicalIp(text: string): string | null {
  if (text.indexOf(':') < 0) return parseIPv4(text) === null ? null : text;
  const groups = parseIPv6(text);
  return groups === null ? null : formatIPv6(groups);
}

/**
 * Cheap normalisation for addresses that are already canonical text (what the
 * capture source hands over): only IPv4-mapped IPv6 is rewritten to IPv4.
 * Anything else is returned unchanged.
 */
export function unmapIPv4(text: string): string {
  if (text.length > 7 && text.charCodeAt(0) === 58 /* : */ && text.startsWith('::ffff:')) {
    const rest = text.slice(7);
    if (rest.indexOf('.') > 0) return parseIPv4(rest) === null ? text : rest;
    const canon = canonicalIp(text);
    return canon ?? text;
  }
  return text;
}

/** Canonical text of the 16-byte IPv6 address at `off` (an AAAA record's data): canonicalIp of its text, without the text. */
export function ipv6Text(b: Buffer, off: number): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[off + i]! << 8) | b[off + i + 1]!);
  return formatIPv6(g);
}

function parseIPv4(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (p.length === 0 || p.length > 3 || !/^[0-9]+$/.test(p)) return null;
    if (p.length > 1 && p[0] === '0') return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

/** The 8 16-bit groups of an IPv6 address, or null. Accepts an embedded IPv4 tail. */
function parseIPv6(text: string): number[] | null {
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) > 0) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    text = text.slice(0, lastColon + 1) + '0';
    tail.length = 2;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!HEX.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  if (head === null) return null;
  let groups: number[];
  if (halves.length === 2) {
    const back = parse(halves[1]!);
    if (back === null) return null;
    if (tail.length) back.pop();
    const fill = 8 - tail.length - head.length - back.length;
    if (fill < 1) return null;
    groups = [...head, ...new Array<number>(fill).fill(0), ...back, ...tail];
  } else {
    if (tail.length) head.pop();
    groups = [...head, ...tail];
  }
  return groups.length === 8 ? groups : null;
}

function formatIPv6(g: number[]): string {
  // IPv4-mapped: ::ffff:a.b.c.d -> a.b.c.d
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestLen < 2) return g.map((x) => x.toString(16)).join(':');
  const left = g.slice(0, bestStart).map((x) => x.toString(16)).join(':');
  const right = g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':');
  return `${left}::${right}`;
}
