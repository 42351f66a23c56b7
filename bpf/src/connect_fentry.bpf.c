/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/* Rung 2: fentry on security_socket_connect (BPF trampoline; TOCTOU-safe). */
#include "common.bpf.h"
#include <bpf/bpf_tracing.h>

SEC("fentry/security_socket_connect")
int BPF_PROG(ct_connect_fentry, struct socket *sock, struct sockaddr *address, int addrlen)
{
	ct_emit_security_socket_connect(sock, address, CT_PROBE_FENTRY, true);
	return 0;
}
