/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * What became of a connect, beside whichever rung captured it: the TCP
 * handshake's end (a socket leaving SYN_SENT, with the source address the
 * kernel chose and sk_err) and connect() calls that fail at once (no route,
 * refused by a policy, blocking connects that fail). Userspace joins these to
 * the connect records (socket cookie; pid/tid). Two companions: the state
 * probe is a raw tracepoint (attached by name); the failed-connect probe is
 * fexit on __sys_connect where the kernel allows BPF trampolines, else (only
 * when asked for) the classic syscalls tracepoint, whose id comes from tracefs
 * and which, once enabled, sends every system call of every process through
 * the kernel's slow exit path.
 */
#include "common.bpf.h"
#include <bpf/bpf_tracing.h>

#define TCP_SYN_SENT 2
#define IPPROTO_TCP 6

#define EINTR 4
#define ENOENT 2
#define EAGAIN 11
#define EALREADY 114
#define EINPROGRESS 115
#define ECONNRESET 104
#define ETIMEDOUT 110
#define ECONNREFUSED 111
#define ERESTARTSYS 512 /* and the other kernel-internal restart codes above it */

static __always_inline struct ct_outcome *ct_outcome_begin(__u8 probe)
{
	struct ct_outcome *o;

	ct_count(CT_CNT_OUTCOME_SEEN);
	o = bpf_ringbuf_reserve(&ct_events, sizeof(*o), 0);
	if (!o) {
		ct_count(CT_CNT_DROP_OUTCOME);
		return NULL;
	}
	__builtin_memset(o, 0, sizeof(*o));
	o->hdr.kind = CT_KIND_OUTCOME;
	o->hdr.size = sizeof(*o);
	o->hdr.probe = probe;
	o->hdr.ktime_ns = bpf_ktime_get_boot_ns();
	return o;
}

static __always_inline void ct_outcome_commit(struct ct_outcome *o)
{
	bpf_ringbuf_submit(o, ct_submit_flags(ct_cfg(), CT_RINGBUF_SHARE(sizeof(*o))));
}

/* The handshake ended: ESTABLISHED, or CLOSE with the reason in sk_err. A raw tracepoint: no tracefs needed. */
SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(ct_outcome_state, struct sock *sk, int oldstate, int newstate)
{
	struct ct_outcome *o;
	__u16 family;
	__u64 cookie;

	if (oldstate != TCP_SYN_SENT || !CT_HAS(CT_FEAT_READ_KERNEL))
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	/* made at connect() by the rung (or at socket() by the cookie maker); 0 if neither did */
	cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (cookie && !bpf_map_delete_elem(&ct_outcome_skip, &cookie)) {
		ct_count(CT_CNT_OUTCOME_EXCLUDED);
		return 0;
	}
	o = ct_outcome_begin(CT_PROBE_OUTCOME_STATE);
	if (!o)
		return 0;
	o->newstate = newstate;
	o->family = family;
	/* inet_sport, as the tracepoint's own record has it: skc_num may be released first on close */
	o->sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	o->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	/* bpf_core_read with the sizes: BPF_CORE_READ_INTO would copy sizeof(*o->saddr), one byte */
	if (family == AF_INET) {
		bpf_core_read(o->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(o->daddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(o->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(o->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	o->err = BPF_CORE_READ(sk, sk_err);
	if (cookie) {
		o->socket_cookie = cookie;
		o->hdr.flags |= CT_F_COOKIE;
	}
	ct_outcome_commit(o);
	return 0;
}

/* connect() failed at once: no handshake ended, so the state probe saw nothing (or will not say why). */
static __always_inline int ct_connect_failed(long ret)
{
	__u64 pid_tgid;
	struct ct_config *cfg;
	struct ct_outcome *o;

	/* still going (non-blocking, interrupted), not an inet socket's error, or the end of a
	 * handshake the state probe reports already (a blocking connect refused or timed out) */
	if (ret >= 0 || ret == -EINPROGRESS || ret == -EALREADY || ret == -EINTR || ret <= -ERESTARTSYS ||
	    ret == -ENOENT || ret == -EAGAIN || ret == -ECONNREFUSED || ret == -ETIMEDOUT || ret == -ECONNRESET)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	cfg = ct_cfg();
	if (cfg && cfg->self_tgid && cfg->self_tgid == (__u32)(pid_tgid >> 32))
		return 0;
	o = ct_outcome_begin(CT_PROBE_OUTCOME_SYSCALL);
	if (!o)
		return 0;
	o->pid = pid_tgid >> 32;
	o->tid = (__u32)pid_tgid;
	o->err = (__s32)-ret;
	ct_outcome_commit(o);
	return 0;
}

/* A BPF trampoline on the syscall's body: only connect() pays for it. */
SEC("fexit/__sys_connect")
int BPF_PROG(ct_connect_exit_fexit, int fd, struct sockaddr *uservaddr, int addrlen, int ret)
{
	return ct_connect_failed(ret);
}

/* Where trampolines are refused: the syscall's exit tracepoint (see the top for its cost). */
SEC("tracepoint/syscalls/sys_exit_connect")
int ct_outcome_syscall(struct trace_event_raw_sys_exit *ctx)
{
	return ct_connect_failed(ctx->ret);
}
