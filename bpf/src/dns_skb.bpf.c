/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * cgroup_skb/ingress on the cgroup v2 root: copies DNS replies (UDP or TCP
 * source port 53, IPv4 and IPv6) into the same ring buffer as the connect
 * records, so a reply is read before any connect that follows it. The payload
 * is copied up to ct_config.dns_cap bytes; parsing is userspace's job.
 * Always returns 1 (let the packet through).
 */
#include "common.bpf.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define DNS_PORT 53

/*
 * The receiving socket's netns cookie: the helper where skb programs have it
 * (it is newer than 6.12), else read through skb->sk (bpf_probe_read_kernel,
 * 5.19+ in skb programs), else 0: userspace then keeps one host-wide DNS cache.
 */
static __always_inline __u64 ct_skb_netns_cookie(struct __sk_buff *skb)
{
	struct bpf_sock *bsk;
	struct sock *sk = NULL;

	if (CT_HAS(CT_FEAT_NETNS_COOKIE))
		return bpf_get_netns_cookie(skb);
	if (!CT_HAS(CT_FEAT_READ_KERNEL))
		return 0;
	bsk = skb->sk;
	if (!bsk)
		return 0;
	/* copied as plain bytes: the verifier allows no arithmetic on a socket pointer, CO-RE reads need it */
	bpf_probe_read_kernel(&sk, sizeof(sk), &bsk);
	return ct_sk_netns_cookie(sk);
}

SEC("cgroup_skb/ingress")
int ct_dns_ingress(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 off, l4off, len, n; /* 64-bit: no zero-extension copies that lose the verifier's bounds */
	struct ct_config *cfg;
	struct ct_dns_scratch *s;
	struct ct_dns *d;
	__u16 family;
	__u8 proto;
	__u16 ports[2];

	__u8 saddr[16] = {}, daddr[16] = {};

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
			return 1;
		if (ip.frag_off & bpf_htons(0x1fff)) /* not the first fragment */
			return 1;
		family = AF_INET;
		proto = ip.protocol;
		l4off = ip.ihl * 4;
		__builtin_memcpy(saddr, &ip.saddr, 4);
		__builtin_memcpy(daddr, &ip.daddr, 4);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			return 1;
		/* no extension headers are walked: UDP/TCP must follow directly */
		family = AF_INET6;
		proto = ip6.nexthdr;
		l4off = sizeof(ip6);
		__builtin_memcpy(saddr, &ip6.saddr, 16);
		__builtin_memcpy(daddr, &ip6.daddr, 16);
	} else {
		return 1;
	}
	if (proto != IPPROTO_UDP && proto != IPPROTO_TCP)
		return 1;
	if (bpf_skb_load_bytes(skb, l4off, ports, sizeof(ports)))
		return 1;
	if (ports[0] != bpf_htons(DNS_PORT))
		return 1;
	s = bpf_map_lookup_elem(&ct_dns_scratch, &zero);
	if (!s)
		return 1;
	d = &s->d;
	__builtin_memcpy(d->saddr, saddr, 16);
	__builtin_memcpy(d->daddr, daddr, 16);

	d->hdr.flags = 0;
	if (proto == IPPROTO_UDP) {
		struct udphdr uh;
		if (bpf_skb_load_bytes(skb, l4off, &uh, sizeof(uh)))
			return 1;
		off = l4off + sizeof(uh);
		len = bpf_ntohs(uh.len);
		len = len > sizeof(uh) ? len - sizeof(uh) : 0;
	} else {
		__u8 doff = 0;
		/* data offset: high nibble of byte 12 of the TCP header */
		if (bpf_skb_load_bytes(skb, l4off + 12, &doff, 1))
			return 1;
		off = l4off + (doff >> 4) * 4;
		len = skb->len > off ? skb->len - off : 0;
		d->hdr.flags |= CT_F_DNS_TCP;
	}
	if (len == 0) /* TCP handshake/ACK, empty datagram */
		return 1;

	ct_count(CT_CNT_DNS_SEEN);
	cfg = ct_cfg();
	n = len;
	if (skb->len < off)
		n = 0;
	else if (n > skb->len - off)
		n = skb->len - off;
	if (cfg && n > cfg->dns_cap)
		n = cfg->dns_cap;
	if (n > CT_DNS_MAX_CAP)
		n = CT_DNS_MAX_CAP;
	if (n > 0) {
		/* n - 1 bounded, then + 1: 6.1's verifier learns no lower bound from n != 0, and the size must be >= 1 */
		__u64 last = n - 1;

		barrier_var(last);
		if (last >= CT_DNS_MAX_CAP)
			return 1;
		if (bpf_skb_load_bytes(skb, off, s->payload, last + 1)) {
			ct_count(CT_CNT_DNS_READ_ERR);
			return 1;
		}
	}

	d->hdr.kind = CT_KIND_DNS;
	d->hdr.size = sizeof(*d) + n;
	d->hdr.probe = CT_PROBE_DNS_SKB;
	d->hdr.reserved = 0;
	d->hdr.ktime_ns = bpf_ktime_get_boot_ns();
	d->netns_cookie = ct_skb_netns_cookie(skb);
	if (d->netns_cookie)
		d->hdr.flags |= CT_F_NETNS;
	d->ifindex = skb->ifindex;
	d->family = family;
	d->transport = proto;
	d->reserved = 0;
	d->sport = bpf_ntohs(ports[0]);
	d->dport = bpf_ntohs(ports[1]);
	d->payload_len = len;
	d->captured_len = n;
	d->reserved2 = 0;
	if (bpf_ringbuf_output(&ct_events, d, sizeof(*d) + n, ct_submit_flags(cfg, 0)))
		ct_count(CT_CNT_DROP_DNS);
	return 1;
}
