/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/* Rung 1: BPF LSM hook socket_connect (kernel copy of the address: TOCTOU-safe). */
#include "common.bpf.h"
#include <bpf/bpf_tracing.h>

SEC("lsm/socket_connect")
int BPF_PROG(ct_connect_lsm, struct socket *sock, struct sockaddr *address, int addrlen, int ret)
{
	if (ret)
		return ret;
	ct_emit_security_socket_connect(sock, address, CT_PROBE_LSM, true);
	return 0;
}
