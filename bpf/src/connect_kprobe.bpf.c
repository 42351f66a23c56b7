/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/* Rung 3: kprobe on security_socket_connect, as Tracee's NetTCPConnect (TOCTOU-safe). */
#include "common.bpf.h"
#include <bpf/bpf_tracing.h>

SEC("kprobe/security_socket_connect")
int BPF_KPROBE(ct_connect_kprobe, struct socket *sock, struct sockaddr *address, int addrlen)
{
	ct_emit_security_socket_connect(sock, address, CT_PROBE_KPROBE, false);
	return 0;
}
