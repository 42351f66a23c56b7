/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * Rung 5 (last resort): tracepoint syscalls/sys_enter_connect. The address is
 * read from user memory before the kernel copies it, so another thread can
 * change it in between: records carry CT_F_TOCTOU.
 */
#include "common.bpf.h"

/* struct socket behind fd of the current task, NULL if fd is not a socket. */
static __always_inline struct socket *ct_fd_socket(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;
	struct socket *sock;

	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, file) != file)
		return NULL;
	return sock;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int ct_connect_tp(struct trace_event_raw_sys_enter *ctx)
{
	int fd = (int)ctx->args[0];
	const struct sockaddr *uaddr = (const struct sockaddr *)ctx->args[1];
	struct ct_config *cfg;
	struct ct_connect *e;
	struct socket *sock;
	__u16 family = 0;

	if (bpf_probe_read_user(&family, sizeof(family), &uaddr->sa_family))
		return 0;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	sock = ct_fd_socket(fd);
	if (!sock)
		return 0;
	cfg = ct_cfg();
	e = ct_connect_begin(cfg, CT_PROBE_TRACEPOINT);
	if (!e)
		return 0;
	e->hdr.flags |= CT_F_TOCTOU;
	e->family = family;
	if (family == AF_INET) {
		struct sockaddr_in sin = {};
		bpf_probe_read_user(&sin, sizeof(sin), uaddr);
		e->dport = bpf_ntohs(sin.sin_port);
		__builtin_memcpy(e->daddr, &sin.sin_addr.s_addr, 4);
	} else {
		struct sockaddr_in6 sin6 = {};
		bpf_probe_read_user(&sin6, sizeof(sin6), uaddr);
		e->dport = bpf_ntohs(sin6.sin6_port);
		__builtin_memcpy(e->daddr, &sin6.sin6_addr, 16);
	}
	ct_read_socket(e, sock, false);
	ct_connect_commit(cfg, e);
	return 0;
}
