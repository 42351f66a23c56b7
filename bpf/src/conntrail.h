/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * conntrail record layout, shared by the BPF programs (bpf/src/<name>.bpf.c) and
 * the Node-API addon (bpf/native/loader.c), which exports the offsets below to
 * JavaScript (getLayout() in bpf/lib/index.ts). This header is the only place
 * the layout is defined.
 *
 * Every record in the ring buffer starts with struct ct_hdr; hdr.size is the
 * record's size in bytes (body included). Records are little-endian host
 * order, addresses in network order, ports in host order.
 *
 * Network-namespace identity: both connect and DNS records carry the netns
 * COOKIE (struct net::net_cookie, the value bpf_get_netns_cookie() returns),
 * never the inode, so the two can be compared.
 */
#ifndef CONNTRAIL_H
#define CONNTRAIL_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* hdr.kind */
#define CT_KIND_CONNECT 1
#define CT_KIND_DNS 2
#define CT_KIND_OUTCOME 3
#define CT_KIND_EXEC 4

/* hdr.probe: which program produced the record */
#define CT_PROBE_LSM 1
#define CT_PROBE_FENTRY 2
#define CT_PROBE_KPROBE 3
#define CT_PROBE_CGROUP 4
#define CT_PROBE_TRACEPOINT 5
#define CT_PROBE_DNS_SKB 6
#define CT_PROBE_OUTCOME_STATE 7    /* raw_tp inet_sock_set_state: a TCP socket left SYN_SENT */
#define CT_PROBE_OUTCOME_SYSCALL 8  /* tracepoint syscalls/sys_exit_connect: connect() returned an error */
#define CT_PROBE_EXEC 9             /* raw_tp sched_process_exec */

/* hdr.flags */
#define CT_F_TOCTOU 0x01     /* address read from user memory (sys_enter_connect) */
#define CT_F_COOKIE 0x02     /* socket_cookie is valid */
#define CT_F_DNS_TCP 0x04    /* DNS record: TCP segment (payload starts with the 2-byte length if first) */
#define CT_F_NETNS 0x08      /* netns_cookie is valid (DNS records: the kernel lets skb programs read it) */

struct ct_hdr {
	__u16 kind;
	__u16 size;      /* whole record, header included */
	__u8 probe;
	__u8 flags;
	__u16 reserved;
	__u64 ktime_ns;  /* bpf_ktime_get_boot_ns() */
};

#define CT_COMM_LEN 16

struct ct_connect {
	struct ct_hdr hdr;
	__u32 pid;            /* tgid */
	__u32 tid;
	__u32 uid;
	__u32 gid;
	__u32 ppid;           /* real_parent's tgid, 0 if unknown */
	__u16 family;         /* AF_INET / AF_INET6 */
	__u16 sock_type;      /* SOCK_STREAM, SOCK_DGRAM, ... */
	__u16 protocol;       /* IPPROTO_* */
	__u16 dport;          /* host order */
	__u32 reserved;
	__u64 proc_start_ns;  /* group leader's start_boottime, 0 if unknown */
	__u64 cgroup_id;
	__u64 netns_cookie;
	__u64 socket_cookie;  /* valid when CT_F_COOKIE */
	__u8 daddr[16];       /* IPv4 in the first 4 bytes */
	char comm[CT_COMM_LEN];
};

/* Largest DNS payload a record can carry (dnsPayloadCap is clamped to it). */
#define CT_DNS_MAX_CAP 4096

struct ct_dns {
	struct ct_hdr hdr;
	__u64 netns_cookie;
	__u32 ifindex;
	__u16 family;         /* AF_INET / AF_INET6 */
	__u8 transport;       /* IPPROTO_UDP / IPPROTO_TCP */
	__u8 reserved;
	__u16 sport;          /* host order */
	__u16 dport;          /* host order */
	__u32 payload_len;    /* DNS payload length on the wire (after UDP/TCP header) */
	__u32 captured_len;   /* bytes of payload that follow this struct */
	__u32 reserved2;
	__u8 saddr[16];
	__u8 daddr[16];
	/* followed by captured_len bytes of payload, at offset sizeof(struct ct_dns) */
};

/*
 * What became of a connect: a TCP socket leaving SYN_SENT (hdr.probe
 * CT_PROBE_OUTCOME_STATE: socket_cookie when CT_F_COOKIE, the source address
 * the kernel chose, sk_err), or connect() returning an error that ends no
 * handshake (CT_PROBE_OUTCOME_SYSCALL: no route, a policy's EPERM; pid/tid of
 * the caller, -ret; no cookie, no addresses). Userspace joins it to the connect record by socket
 * cookie or by thread.
 */
#define CT_TCP_ESTABLISHED 1
#define CT_TCP_CLOSE 7

struct ct_outcome {
	struct ct_hdr hdr;
	__u64 socket_cookie;  /* state: valid when CT_F_COOKIE */
	__u32 pid;            /* syscall: tgid of the caller; state: 0 (runs in softirq) */
	__u32 tid;
	__s32 err;            /* positive errno: sk_err (state) or -ret (syscall); 0: none */
	__u16 family;         /* state: AF_INET / AF_INET6 */
	__u8 newstate;        /* state: CT_TCP_ESTABLISHED or CT_TCP_CLOSE; syscall: 0 */
	__u8 reserved;
	__u16 sport;          /* state: host order */
	__u16 dport;          /* state: host order */
	__u32 reserved2;
	__u8 saddr[16];       /* state: IPv4 in the first 4 bytes */
	__u8 daddr[16];
};

/*
 * A process image started (execve): what /proc would say of it, for
 * processes that are gone before userspace reads /proc (a curl of 5 ms).
 * Followed by CT_EXEC_FILENAME_MAX bytes of the path given to execve
 * (NUL-terminated, filename_len bytes before the NUL) and args_len bytes of
 * argv as /proc/<pid>/cmdline has it (NUL-separated), cut at
 * ct_config.exec_args_cap; args_size is argv's whole size.
 */
#define CT_EXEC_FILENAME_MAX 256
#define CT_EXEC_MAX_ARGS 4095

struct ct_exec {
	struct ct_hdr hdr;
	__u32 pid;            /* tgid */
	__u32 ppid;           /* real_parent's tgid */
	__u64 proc_start_ns;  /* group leader's start_boottime: the connect records' proc_start_ns */
	__u32 uid;
	__u32 gid;
	__u32 args_len;       /* bytes of argv that follow the filename */
	__u32 args_size;      /* arg_end - arg_start */
	__u32 filename_len;
	__u32 reserved;
	char comm[CT_COMM_LEN];
	/* followed by char filename[CT_EXEC_FILENAME_MAX], then args_len bytes */
};

/* Per-CPU counters (BPF_MAP_TYPE_PERCPU_ARRAY ct_counters), indexes: */
#define CT_CNT_DROP_CONNECT 0   /* ring buffer full: connect record lost */
#define CT_CNT_DROP_DNS 1       /* ring buffer full: DNS record lost */
#define CT_CNT_DNS_READ_ERR 2   /* bpf_skb_load_bytes failed */
#define CT_CNT_CONNECT_SEEN 3   /* connect() calls the probe saw (before excludes) */
#define CT_CNT_DNS_SEEN 4       /* DNS replies seen */
#define CT_CNT_EXCL_SELF 5      /* connects by conntrail itself, skipped */
#define CT_CNT_EXCL_PORT 6      /* excluded by destination port */
#define CT_CNT_EXCL_CIDR 7      /* excluded by destination CIDR */
#define CT_CNT_DROP_OUTCOME 8   /* ring buffer full: outcome record lost */
#define CT_CNT_OUTCOME_SEEN 9   /* outcome records the probes made (before the ring) */
#define CT_CNT_DROP_EXEC 10     /* ring buffer full: exec record lost */
#define CT_CNT_EXEC_SEEN 11     /* execs seen */
#define CT_CNT_OUTCOME_EXCLUDED 12 /* handshake ends of sockets a port/CIDR exclude dropped, skipped */
#define CT_CNT_MAX 13

/* ct_config (one-entry array), written by userspace after load, before attach. */
#define CT_CFG_EXCL_PORTS 0x1
#define CT_CFG_EXCL_CIDRS 0x2

struct ct_config {
	__u32 self_tgid;      /* 0: none */
	__u32 dns_cap;        /* <= CT_DNS_MAX_CAP */
	__u64 wakeup_bytes;   /* force a consumer wake-up above this much pending data */
	__u32 flags;          /* CT_CFG_* */
	__u32 exec_args_cap;  /* argv bytes an exec record carries, <= CT_EXEC_MAX_ARGS */
};

/*
 * ct_features (a .rodata constant): what the running kernel allows the loaded
 * program's type, probed by the loader before load (libbpf_probe_bpf_helper,
 * BTF). The verifier drops the branches of absent features, so one object
 * loads on 5.10 to 6.18.
 */
#define CT_FEAT_TASK_BTF 0x01     /* bpf_get_current_task_btf (5.11+; tracing/LSM, cgroup 5.19+) */
#define CT_FEAT_TASK 0x02         /* bpf_get_current_task (CO-RE reads need CT_FEAT_READ_KERNEL too) */
#define CT_FEAT_COMM 0x04         /* bpf_get_current_comm */
#define CT_FEAT_CGROUP_ID 0x08    /* bpf_get_current_cgroup_id */
#define CT_FEAT_SOCK_COOKIE 0x10  /* bpf_get_socket_cookie on the program's socket */
#define CT_FEAT_NETNS_COOKIE 0x20 /* bpf_get_netns_cookie on the program's context */
#define CT_FEAT_READ_KERNEL 0x40  /* bpf_probe_read_kernel (skb programs: 5.19+) */

/* ct_excl_cidrs (LPM trie) key: IPv4 as ::ffff:a.b.c.d, prefixlen + 96 */
struct ct_cidr_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/*
 * capture.persist: a capture pinned in bpffs (<pinPath>/) keeps capturing
 * while no conntrail runs. Its tag, a one-entry array pinned last as
 * <pinPath>/tag, says what was pinned; a conntrail adopts the instance only
 * when magic and layout_version match its own. Bump CT_LAYOUT_VERSION when a
 * record, a map or a counter index above changes meaning.
 */
#define CT_PIN_MAGIC 0x6e707463U  /* "ctpn" */
#define CT_LAYOUT_VERSION 3

#define CT_PIN_DNS 0x1      /* link_dns_0 is pinned */
#define CT_PIN_COOKIES 0x2  /* link_cookies_0 is pinned */
#define CT_PIN_OUTCOME 0x4      /* link_outcome_0 is pinned */
#define CT_PIN_EXEC 0x8         /* link_exec_0 is pinned */
#define CT_PIN_CONNECT_EXIT 0x10 /* link_connect_exit_0 is pinned */

struct ct_pin_tag {
	__u32 magic;          /* CT_PIN_MAGIC */
	__u32 layout_version; /* CT_LAYOUT_VERSION of the conntrail that pinned it */
	__u32 probe;          /* CT_PROBE_* of the connect rung (links link_<rung>_<i>) */
	__u32 ring_bytes;     /* ct_events' size */
	__u32 flags;          /* CT_PIN_* */
	__u32 reserved;
};

#endif
