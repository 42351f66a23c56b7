/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * cgroup/sock_create on the cgroup v2 root, beside a connect rung that cannot
 * make cookies itself: kprobe and tracepoint programs may not call
 * bpf_get_socket_cookie (nor fentry/LSM before 5.12), and before 5.12 a netns
 * cookie is made on first use only. Asking for both when an inet socket is
 * created makes them exist before its connect(), so the rung's field reads
 * find them. Always returns 1 (allow).
 */
#include "common.bpf.h"

SEC("cgroup/sock_create")
int ct_sock_create(struct bpf_sock *ctx)
{
	if (CT_HAS(CT_FEAT_SOCK_COOKIE))
		bpf_get_socket_cookie(ctx);
	if (CT_HAS(CT_FEAT_NETNS_COOKIE))
		bpf_get_netns_cookie(ctx);
	return 1;
}
