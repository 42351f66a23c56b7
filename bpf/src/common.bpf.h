/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * Shared by every conntrail .bpf.c: the maps (defined once in maps.bpf.c,
 * declared extern here; `bpftool gen object` links all files into one object
 * so every program shares the one ring buffer) and the record helpers.
 */
#ifndef CONNTRAIL_COMMON_BPF_H
#define CONNTRAIL_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "conntrail.h"

#define AF_INET 2
#define AF_INET6 10

/* Map definitions: the same text for the definition and the extern declarations. */
#define CT_EVENTS_MAP struct { \
	__uint(type, BPF_MAP_TYPE_RINGBUF); \
	__uint(max_entries, 4 << 20); /* resized by the loader */ \
}
#define CT_COUNTERS_MAP struct { \
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); \
	__uint(max_entries, CT_CNT_MAX); \
	__type(key, __u32); \
	__type(value, __u64); \
}
#define CT_CONFIG_MAP struct { \
	__uint(type, BPF_MAP_TYPE_ARRAY); \
	__uint(max_entries, 1); \
	__type(key, __u32); \
	__type(value, struct ct_config); \
}
#define CT_EXCL_PORTS_MAP struct { \
	__uint(type, BPF_MAP_TYPE_HASH); \
	__uint(max_entries, 256); \
	__type(key, __u16); \
	__type(value, __u8); \
}
#define CT_EXCL_CIDRS_MAP struct { \
	__uint(type, BPF_MAP_TYPE_LPM_TRIE); \
	__uint(max_entries, 256); \
	__uint(map_flags, BPF_F_NO_PREALLOC); \
	__type(key, struct ct_cidr_key); \
	__type(value, __u8); \
}
/*
 * Cookies of the sockets whose connect a port/CIDR exclude dropped, until their
 * handshake ends: the outcome probe skips those instead of sending records
 * nobody will join. LRU: a socket whose handshake never ends ages out (its
 * outcome, if it comes, reaches userspace as an orphan, as without the map).
 */
#define CT_OUTCOME_SKIP_MAP struct { \
	__uint(type, BPF_MAP_TYPE_LRU_HASH); \
	__uint(max_entries, 16384); \
	__type(key, __u64); \
	__type(value, __u8); \
}
/* a DNS record is built here (it has a variable size), then bpf_ringbuf_output() copies it */
struct ct_dns_scratch {
	struct ct_dns d;
	__u8 payload[CT_DNS_MAX_CAP];
};
#define CT_DNS_SCRATCH_MAP struct { \
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); \
	__uint(max_entries, 1); \
	__type(key, __u32); \
	__type(value, struct ct_dns_scratch); \
}

/* an exec record is built here too (filename and argv follow it) */
struct ct_exec_scratch {
	struct ct_exec e;
	char filename[CT_EXEC_FILENAME_MAX];
	__u8 args[CT_EXEC_MAX_ARGS + 1];
};
#define CT_EXEC_SCRATCH_MAP struct { \
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); \
	__uint(max_entries, 1); \
	__type(key, __u32); \
	__type(value, struct ct_exec_scratch); \
}

/* maps.bpf.c defines CT_DEFINE_MAPS: the definitions live there, every other file gets externs */
#ifdef CT_DEFINE_MAPS
#define CT_MAP
#else
#define CT_MAP extern
#endif
CT_MAP CT_EVENTS_MAP ct_events SEC(".maps");
CT_MAP CT_COUNTERS_MAP ct_counters SEC(".maps");
CT_MAP CT_CONFIG_MAP ct_config SEC(".maps");
CT_MAP CT_EXCL_PORTS_MAP ct_excl_ports SEC(".maps");
CT_MAP CT_EXCL_CIDRS_MAP ct_excl_cidrs SEC(".maps");
CT_MAP CT_OUTCOME_SKIP_MAP ct_outcome_skip SEC(".maps");
CT_MAP CT_DNS_SCRATCH_MAP ct_dns_scratch SEC(".maps");
CT_MAP CT_EXEC_SCRATCH_MAP ct_exec_scratch SEC(".maps");

/* CT_FEAT_* the loader found for the loaded program's type (set before load; defined in maps.bpf.c) */
extern const volatile __u32 ct_features;
#define CT_HAS(f) (ct_features & (f))

static __always_inline void ct_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&ct_counters, &idx);
	if (v)
		*v += 1;
}

static __always_inline struct ct_config *ct_cfg(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&ct_config, &zero);
}

/*
 * Wake the consumer when this record went into an empty ring (it sleeps while
 * the host is idle) or when a good part of the ring is pending; otherwise it
 * drains on its own timer, batching many records per wake-up. `size` is what
 * this record already holds of the ring: its reservation (header included),
 * or 0 when asked before bpf_ringbuf_output().
 */
static __always_inline __u64 ct_submit_flags(const struct ct_config *cfg, __u64 size)
{
	__u64 avail = bpf_ringbuf_query(&ct_events, BPF_RB_AVAIL_DATA);

	if (!cfg)
		return BPF_RB_NO_WAKEUP;
	return (avail <= size || avail >= cfg->wakeup_bytes) ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* A reservation's share of the ring: the 8-byte record header, the record rounded up to 8 bytes. */
#define CT_RINGBUF_SHARE(size) (BPF_RINGBUF_HDR_SZ + (((size) + 7) & ~7ULL))

/*
 * The process part of a connect record, by the best way this kernel allows the
 * program: plain loads through the BTF task pointer, else CO-RE reads through
 * bpf_get_current_task, else what the helpers give (userspace fills ppid from
 * /proc when it stays 0).
 */
static __always_inline void ct_fill_task(struct ct_connect *e)
{
	if (CT_HAS(CT_FEAT_TASK_BTF)) {
		struct task_struct *task = bpf_get_current_task_btf();

		e->ppid = task->real_parent->tgid;
		e->proc_start_ns = task->group_leader->start_boottime;
		/* two plain loads (bpf_get_current_comm costs ~60 ns more) */
		__builtin_memcpy(e->comm, task->comm, sizeof(e->comm));
		return;
	}
	if (CT_HAS(CT_FEAT_TASK) && CT_HAS(CT_FEAT_READ_KERNEL)) {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();

		e->ppid = BPF_CORE_READ(task, real_parent, tgid);
		e->proc_start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	}
	if (CT_HAS(CT_FEAT_COMM))
		bpf_get_current_comm(e->comm, sizeof(e->comm));
}

/*
 * Common start of every connect probe: excludes conntrail itself, reserves a
 * record and fills the task part. Returns NULL when nothing is to be emitted.
 * The caller fills family/type/protocol/address, then calls ct_connect_commit().
 */
static __always_inline struct ct_connect *ct_connect_begin(struct ct_config *cfg, __u8 probe)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct ct_connect *e;

	ct_count(CT_CNT_CONNECT_SEEN);
	if (cfg && cfg->self_tgid && cfg->self_tgid == tgid) {
		ct_count(CT_CNT_EXCL_SELF);
		return NULL;
	}
	e = bpf_ringbuf_reserve(&ct_events, sizeof(*e), 0);
	if (!e) {
		ct_count(CT_CNT_DROP_CONNECT);
		return NULL;
	}
	__u64 uid_gid = bpf_get_current_uid_gid();

	e->hdr.kind = CT_KIND_CONNECT;
	e->hdr.size = sizeof(*e);
	e->hdr.probe = probe;
	e->hdr.flags = 0;
	e->hdr.reserved = 0;
	e->hdr.ktime_ns = bpf_ktime_get_boot_ns();
	e->pid = tgid;
	e->tid = (__u32)pid_tgid;
	e->uid = (__u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->ppid = 0;
	e->proc_start_ns = 0;
	e->cgroup_id = CT_HAS(CT_FEAT_CGROUP_ID) ? bpf_get_current_cgroup_id() : 0;
	e->reserved = 0;
	e->socket_cookie = 0;
	e->netns_cookie = 0;
	e->family = 0;
	e->sock_type = 0;
	e->protocol = 0;
	e->dport = 0;
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	ct_fill_task(e);
	return e;
}

/* Drops an excluded connect's record; its socket's handshake end is skipped too (ct_outcome_skip). */
static __always_inline void ct_connect_exclude(struct ct_connect *e, __u32 counter)
{
	__u64 cookie = e->socket_cookie; /* a map key from the stack: 5.10 takes no ring-buffer pointer */
	__u8 one = 1;

	ct_count(counter);
	if (e->hdr.flags & CT_F_COOKIE)
		bpf_map_update_elem(&ct_outcome_skip, &cookie, &one, BPF_ANY);
	bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
}

/* Applies the port/CIDR excludes, then submits or discards. */
static __always_inline void ct_connect_commit(struct ct_config *cfg, struct ct_connect *e)
{
	if (cfg && (cfg->flags & CT_CFG_EXCL_PORTS)) {
		__u16 port = e->dport;
		if (bpf_map_lookup_elem(&ct_excl_ports, &port)) {
			ct_connect_exclude(e, CT_CNT_EXCL_PORT);
			return;
		}
	}
	if (cfg && (cfg->flags & CT_CFG_EXCL_CIDRS)) {
		struct ct_cidr_key key = { .prefixlen = 128 };
		if (e->family == AF_INET) {
			key.addr[10] = 0xff;
			key.addr[11] = 0xff;
			__builtin_memcpy(&key.addr[12], e->daddr, 4);
		} else {
			__builtin_memcpy(key.addr, e->daddr, 16);
		}
		if (bpf_map_lookup_elem(&ct_excl_cidrs, &key)) {
			ct_connect_exclude(e, CT_CNT_EXCL_CIDR);
			return;
		}
	}
	bpf_ringbuf_submit(e, ct_submit_flags(cfg, CT_RINGBUF_SHARE(sizeof(*e))));
}

/* Fills family, port and address from a kernel struct sockaddr. Returns 0 if AF_INET/AF_INET6. */
static __always_inline int ct_read_kernel_sockaddr(struct ct_connect *e, const struct sockaddr *addr)
{
	__u16 family = 0;

	bpf_probe_read_kernel(&family, sizeof(family), &addr->sa_family);
	if (family == AF_INET) {
		struct sockaddr_in sin = {};
		bpf_probe_read_kernel(&sin, sizeof(sin), addr);
		e->dport = bpf_ntohs(sin.sin_port);
		__builtin_memcpy(e->daddr, &sin.sin_addr.s_addr, 4);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 sin6 = {};
		bpf_probe_read_kernel(&sin6, sizeof(sin6), addr);
		e->dport = bpf_ntohs(sin6.sin6_port);
		__builtin_memcpy(e->daddr, &sin6.sin6_addr, 16);
	} else {
		return -1;
	}
	e->family = family;
	return 0;
}

/* struct net before 5.12: the cookie was an atomic64_t, made on first use */
struct net___atomic_cookie {
	atomic64_t net_cookie;
} __attribute__((preserve_access_index));

/* The netns cookie of a kernel socket (0 on 5.10-5.11 when nothing asked for it yet). */
static __always_inline __u64 ct_sk_netns_cookie(struct sock *sk)
{
	struct net *net = BPF_CORE_READ(sk, __sk_common.skc_net.net);

	if (bpf_core_field_exists(struct net___atomic_cookie, net_cookie))
		return BPF_CORE_READ((struct net___atomic_cookie *)net, net_cookie.counter);
	return BPF_CORE_READ(net, net_cookie);
}

/*
 * Fills type, protocol, netns cookie and socket cookie from a struct socket.
 * btf: sock is a BTF pointer (fentry, LSM), so bpf_get_socket_cookie can take
 * its sk and make the cookie; kprobe and tracepoint programs may not call it
 * and read the cookie field, set only if someone made it before.
 */
static __always_inline void ct_read_socket(struct ct_connect *e, struct socket *sock, bool btf)
{
	struct sock *sk = BPF_CORE_READ(sock, sk);
	__u64 cookie;

	e->sock_type = BPF_CORE_READ(sock, type);
	if (!sk)
		return;
	e->protocol = BPF_CORE_READ(sk, sk_protocol);
	e->netns_cookie = ct_sk_netns_cookie(sk);
	if (e->netns_cookie)
		e->hdr.flags |= CT_F_NETNS;
	if (btf && CT_HAS(CT_FEAT_SOCK_COOKIE))
		cookie = bpf_get_socket_cookie(sock->sk);
	else
		cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (cookie) {
		e->socket_cookie = cookie;
		e->hdr.flags |= CT_F_COOKIE;
	}
}

/* For the hooks given (struct socket *, struct sockaddr * kernel copy). */
static __always_inline void ct_emit_security_socket_connect(struct socket *sock, struct sockaddr *addr, __u8 probe, bool btf)
{
	struct ct_config *cfg = ct_cfg();
	struct ct_connect *e;
	__u16 family = 0;

	bpf_probe_read_kernel(&family, sizeof(family), &addr->sa_family);
	if (family != AF_INET && family != AF_INET6)
		return;
	e = ct_connect_begin(cfg, probe);
	if (!e)
		return;
	ct_read_kernel_sockaddr(e, addr);
	ct_read_socket(e, sock, btf);
	ct_connect_commit(cfg, e);
}

#endif
