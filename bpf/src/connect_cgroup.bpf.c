/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * Rung 4: cgroup/connect4 + cgroup/connect6 on the cgroup v2 root. The context
 * is the kernel copy of the address (TOCTOU-safe). Must return 1 (allow).
 */
#include "common.bpf.h"

static __always_inline void ct_emit_sock_addr(struct bpf_sock_addr *ctx, __u16 family)
{
	struct ct_config *cfg = ct_cfg();
	struct ct_connect *e = ct_connect_begin(cfg, CT_PROBE_CGROUP);

	if (!e)
		return;
	e->family = family;
	e->sock_type = ctx->type;
	e->protocol = ctx->protocol;
	e->dport = bpf_ntohs(ctx->user_port);
	if (family == AF_INET) {
		__u32 ip4 = ctx->user_ip4;
		__builtin_memcpy(e->daddr, &ip4, 4);
	} else {
		__u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1], w2 = ctx->user_ip6[2], w3 = ctx->user_ip6[3];
		__builtin_memcpy(&e->daddr[0], &w0, 4);
		__builtin_memcpy(&e->daddr[4], &w1, 4);
		__builtin_memcpy(&e->daddr[8], &w2, 4);
		__builtin_memcpy(&e->daddr[12], &w3, 4);
	}
	if (CT_HAS(CT_FEAT_NETNS_COOKIE)) {
		e->netns_cookie = bpf_get_netns_cookie(ctx);
		e->hdr.flags |= CT_F_NETNS;
	}
	if (CT_HAS(CT_FEAT_SOCK_COOKIE)) {
		e->socket_cookie = bpf_get_socket_cookie(ctx);
		e->hdr.flags |= CT_F_COOKIE;
	}
	ct_connect_commit(cfg, e);
}

SEC("cgroup/connect4")
int ct_connect4(struct bpf_sock_addr *ctx)
{
	ct_emit_sock_addr(ctx, AF_INET);
	return 1;
}

SEC("cgroup/connect6")
int ct_connect6(struct bpf_sock_addr *ctx)
{
	ct_emit_sock_addr(ctx, AF_INET6);
	return 1;
}
