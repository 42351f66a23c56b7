// SPDX-License-Identifier: Apache-2.0
/*
 * The record layout for JavaScript (offsets from offsetof(), constants from
 * conntrail.h: the decoder reads nothing else), and a batch written by C with
 * known values for the decoder's test.
 */
#include "layout.h"

#include <stddef.h>
#include <string.h>

#include "capture.h"
#include "conntrail.h"
#include "consumer.h"

#define SET_INTS(env, parent, name, ...)                                       \
	do {                                                                   \
		static const struct named_int entries_[] = { __VA_ARGS__ };    \
		if (!set_ints(env, parent, name, entries_,                     \
			      sizeof(entries_) / sizeof(entries_[0]))) {       \
			throw_last(env, "layout." name);                       \
			return NULL;                                           \
		}                                                              \
	} while (0)
/* a record's size, and a field's offset in it */
#define SIZE(type) { "size", sizeof(type) }
#define OFF(type, field, name) { name, offsetof(type, field) }

napi_value js_layout(napi_env env, napi_callback_info info)
{
	napi_value l;
	(void)info;

	CHECK(env, napi_create_object(env, &l));
	set_int(env, l, "frameHeaderBytes", FRAME_HDR);
	set_int(env, l, "dnsMaxCap", CT_DNS_MAX_CAP);
	set_int(env, l, "commLen", CT_COMM_LEN);
	set_int(env, l, "version", CT_LAYOUT_VERSION);
	set_int(env, l, "pinMagic", CT_PIN_MAGIC);
	SET_INTS(env, l, "kinds",
		 { "connect", CT_KIND_CONNECT },
		 { "dns", CT_KIND_DNS },
		 { "outcome", CT_KIND_OUTCOME },
		 { "exec", CT_KIND_EXEC });
	SET_INTS(env, l, "probes",
		 { "lsm", CT_PROBE_LSM },
		 { "fentry", CT_PROBE_FENTRY },
		 { "kprobe", CT_PROBE_KPROBE },
		 { "cgroup", CT_PROBE_CGROUP },
		 { "tracepoint", CT_PROBE_TRACEPOINT },
		 { "dnsSkb", CT_PROBE_DNS_SKB },
		 { "outcomeState", CT_PROBE_OUTCOME_STATE },
		 { "outcomeSyscall", CT_PROBE_OUTCOME_SYSCALL },
		 { "exec", CT_PROBE_EXEC });
	SET_INTS(env, l, "flags",
		 { "toctou", CT_F_TOCTOU },
		 { "cookie", CT_F_COOKIE },
		 { "dnsTcp", CT_F_DNS_TCP },
		 { "netns", CT_F_NETNS });
	SET_INTS(env, l, "features",
		 { "taskBtf", CT_FEAT_TASK_BTF },
		 { "task", CT_FEAT_TASK },
		 { "comm", CT_FEAT_COMM },
		 { "cgroupId", CT_FEAT_CGROUP_ID },
		 { "socketCookie", CT_FEAT_SOCK_COOKIE },
		 { "netnsCookie", CT_FEAT_NETNS_COOKIE },
		 { "readKernel", CT_FEAT_READ_KERNEL });
	SET_INTS(env, l, "counters",
		 { "dropConnect", CT_CNT_DROP_CONNECT },
		 { "dropDns", CT_CNT_DROP_DNS },
		 { "dnsReadError", CT_CNT_DNS_READ_ERR },
		 { "connectSeen", CT_CNT_CONNECT_SEEN },
		 { "dnsSeen", CT_CNT_DNS_SEEN },
		 { "excludedSelf", CT_CNT_EXCL_SELF },
		 { "excludedPort", CT_CNT_EXCL_PORT },
		 { "excludedCidr", CT_CNT_EXCL_CIDR },
		 { "dropOutcome", CT_CNT_DROP_OUTCOME },
		 { "outcomeSeen", CT_CNT_OUTCOME_SEEN },
		 { "dropExec", CT_CNT_DROP_EXEC },
		 { "execSeen", CT_CNT_EXEC_SEEN },
		 { "outcomeExcluded", CT_CNT_OUTCOME_EXCLUDED },
		 { "count", CT_CNT_MAX });
	SET_INTS(env, l, "header",
		 SIZE(struct ct_hdr),
		 OFF(struct ct_hdr, kind, "kind"),
		 OFF(struct ct_hdr, size, "recordSize"),
		 OFF(struct ct_hdr, probe, "probe"),
		 OFF(struct ct_hdr, flags, "flags"),
		 OFF(struct ct_hdr, ktime_ns, "ktimeNs"));
	SET_INTS(env, l, "connect",
		 SIZE(struct ct_connect),
		 OFF(struct ct_connect, pid, "pid"),
		 OFF(struct ct_connect, tid, "tid"),
		 OFF(struct ct_connect, uid, "uid"),
		 OFF(struct ct_connect, gid, "gid"),
		 OFF(struct ct_connect, ppid, "ppid"),
		 OFF(struct ct_connect, family, "family"),
		 OFF(struct ct_connect, sock_type, "sockType"),
		 OFF(struct ct_connect, protocol, "protocol"),
		 OFF(struct ct_connect, dport, "dstPort"),
		 OFF(struct ct_connect, proc_start_ns, "procStartNs"),
		 OFF(struct ct_connect, cgroup_id, "cgroupId"),
		 OFF(struct ct_connect, netns_cookie, "netnsCookie"),
		 OFF(struct ct_connect, socket_cookie, "socketCookie"),
		 OFF(struct ct_connect, daddr, "dstAddr"),
		 OFF(struct ct_connect, comm, "comm"));
	SET_INTS(env, l, "dns",
		 SIZE(struct ct_dns),
		 OFF(struct ct_dns, netns_cookie, "netnsCookie"),
		 OFF(struct ct_dns, ifindex, "ifindex"),
		 OFF(struct ct_dns, family, "family"),
		 OFF(struct ct_dns, transport, "transport"),
		 OFF(struct ct_dns, sport, "srcPort"),
		 OFF(struct ct_dns, dport, "dstPort"),
		 OFF(struct ct_dns, payload_len, "payloadLength"),
		 OFF(struct ct_dns, captured_len, "capturedLength"),
		 OFF(struct ct_dns, saddr, "srcAddr"),
		 OFF(struct ct_dns, daddr, "dstAddr"),
		 { "payload", sizeof(struct ct_dns) });
	SET_INTS(env, l, "outcome",
		 SIZE(struct ct_outcome),
		 OFF(struct ct_outcome, socket_cookie, "socketCookie"),
		 OFF(struct ct_outcome, pid, "pid"),
		 OFF(struct ct_outcome, tid, "tid"),
		 OFF(struct ct_outcome, err, "err"),
		 OFF(struct ct_outcome, family, "family"),
		 OFF(struct ct_outcome, newstate, "newState"),
		 OFF(struct ct_outcome, sport, "srcPort"),
		 OFF(struct ct_outcome, dport, "dstPort"),
		 OFF(struct ct_outcome, saddr, "srcAddr"),
		 OFF(struct ct_outcome, daddr, "dstAddr"));
	SET_INTS(env, l, "exec",
		 SIZE(struct ct_exec),
		 OFF(struct ct_exec, pid, "pid"),
		 OFF(struct ct_exec, ppid, "ppid"),
		 OFF(struct ct_exec, proc_start_ns, "procStartNs"),
		 OFF(struct ct_exec, uid, "uid"),
		 OFF(struct ct_exec, gid, "gid"),
		 OFF(struct ct_exec, args_len, "argsLength"),
		 OFF(struct ct_exec, args_size, "argsSize"),
		 OFF(struct ct_exec, filename_len, "filenameLength"),
		 OFF(struct ct_exec, comm, "comm"),
		 { "filename", sizeof(struct ct_exec) },
		 { "filenameMax", CT_EXEC_FILENAME_MAX },
		 { "args", sizeof(struct ct_exec) + CT_EXEC_FILENAME_MAX },
		 { "maxArgs", CT_EXEC_MAX_ARGS });
	SET_INTS(env, l, "tcpStates",
		 { "established", CT_TCP_ESTABLISHED },
		 { "close", CT_TCP_CLOSE });
	return l;
}

/*
 * sampleRecords() -> Buffer: a framed batch written by C with known values,
 * for the decoder's unit test: one IPv4 connect, one IPv6 connect, one DNS
 * reply with a 5-byte payload, a state outcome (IPv4, refused), a syscall
 * outcome and an exec of "/usr/bin/curl" with argv {"curl", "-s", "x"}. The values are mirrored in test/unit/decode.test.ts.
 */
static size_t put_frame(uint8_t *buf, size_t off, const void *rec, size_t size)
{
	uint32_t frame[2] = { (uint32_t)size, 0 };
	memcpy(buf + off, frame, FRAME_HDR);
	memcpy(buf + off + FRAME_HDR, rec, size);
	return off + FRAME_HDR + ALIGN8(size);
}

napi_value js_sample_records(napi_env env, napi_callback_info info)
{
	uint8_t buf[2048] = { 0 };
	size_t off = 0;
	struct ct_connect c4 = { 0 }, c6;
	struct {
		struct ct_dns d;
		uint8_t p[5];
	} d = { 0 };
	struct ct_outcome os = { 0 }, oc = { 0 };
	struct {
		struct ct_exec e;
		char filename[CT_EXEC_FILENAME_MAX];
		char args[10];
	} x = { 0 };
	napi_value out;
	void *data;
	(void)info;

	c4.hdr.kind = CT_KIND_CONNECT;
	c4.hdr.size = sizeof(c4);
	c4.hdr.probe = CT_PROBE_CGROUP;
	c4.hdr.flags = CT_F_COOKIE;
	c4.hdr.ktime_ns = 123456789012345ULL;
	c4.pid = 4242;
	c4.tid = 4243;
	c4.uid = 1000;
	c4.gid = 1001;
	c4.ppid = 1;
	c4.family = 2;
	c4.sock_type = 1;
	c4.protocol = 6;
	c4.dport = 443;
	c4.proc_start_ns = 5000000000ULL;
	c4.cgroup_id = 0x1122334455667788ULL;
	c4.netns_cookie = 4096;
	c4.socket_cookie = 0xfedcba9876543210ULL;
	memcpy(c4.daddr, (uint8_t[]){ 10, 1, 2, 3 }, 4);
	strcpy(c4.comm, "curl");
	off = put_frame(buf, off, &c4, sizeof(c4));

	c6 = c4;
	c6.hdr.probe = CT_PROBE_TRACEPOINT;
	c6.hdr.flags = CT_F_TOCTOU;
	c6.family = 10;
	c6.sock_type = 2;
	c6.protocol = 17;
	c6.dport = 53;
	c6.socket_cookie = 0;
	memset(c6.daddr, 0, 16);
	c6.daddr[0] = 0x20;
	c6.daddr[1] = 0x01;
	c6.daddr[2] = 0x0d;
	c6.daddr[3] = 0xb8;
	c6.daddr[15] = 0x01;
	memset(c6.comm, 'x', CT_COMM_LEN); /* no NUL: a full 16-byte comm */
	off = put_frame(buf, off, &c6, sizeof(c6));

	d.d.hdr.kind = CT_KIND_DNS;
	d.d.hdr.size = sizeof(d.d) + 5;
	d.d.hdr.probe = CT_PROBE_DNS_SKB;
	d.d.hdr.ktime_ns = 123456789999999ULL;
	d.d.netns_cookie = 4096;
	d.d.ifindex = 1;
	d.d.family = 2;
	d.d.transport = 17;
	d.d.sport = 53;
	d.d.dport = 40000;
	d.d.payload_len = 700;
	d.d.captured_len = 5;
	memcpy(d.d.saddr, (uint8_t[]){ 127, 0, 0, 153 }, 4);
	memcpy(d.d.daddr, (uint8_t[]){ 127, 0, 0, 1 }, 4);
	memcpy(d.p, "\x12\x34\x81\x80\x00", 5);
	off = put_frame(buf, off, &d, sizeof(d.d) + 5);

	os.hdr.kind = CT_KIND_OUTCOME;
	os.hdr.size = sizeof(os);
	os.hdr.probe = CT_PROBE_OUTCOME_STATE;
	os.hdr.flags = CT_F_COOKIE;
	os.hdr.ktime_ns = 123456790012345ULL;
	os.socket_cookie = 0xfedcba9876543210ULL;
	os.err = 111; /* ECONNREFUSED */
	os.family = 2;
	os.newstate = CT_TCP_CLOSE;
	os.sport = 40001;
	os.dport = 443;
	memcpy(os.saddr, (uint8_t[]){ 10, 0, 0, 7 }, 4);
	memcpy(os.daddr, (uint8_t[]){ 10, 1, 2, 3 }, 4);
	off = put_frame(buf, off, &os, sizeof(os));

	oc.hdr.kind = CT_KIND_OUTCOME;
	oc.hdr.size = sizeof(oc);
	oc.hdr.probe = CT_PROBE_OUTCOME_SYSCALL;
	oc.hdr.ktime_ns = 123456790099999ULL;
	oc.pid = 4242;
	oc.tid = 4243;
	oc.err = 101; /* ENETUNREACH */
	off = put_frame(buf, off, &oc, sizeof(oc));

	x.e.hdr.kind = CT_KIND_EXEC;
	x.e.hdr.size = sizeof(x.e) + CT_EXEC_FILENAME_MAX + 10; /* sizeof(x) has padding */
	x.e.hdr.probe = CT_PROBE_EXEC;
	x.e.hdr.ktime_ns = 123456780000000ULL;
	x.e.pid = 4242;
	x.e.ppid = 1;
	x.e.proc_start_ns = 5000000000ULL;
	x.e.uid = 1000;
	x.e.gid = 1001;
	x.e.args_len = 10;
	x.e.args_size = 10;
	strcpy(x.filename, "/usr/bin/curl");
	x.e.filename_len = strlen(x.filename);
	strcpy(x.e.comm, "curl");
	memcpy(x.args, "curl\0-s\0x\0", 10);
	off = put_frame(buf, off, &x, x.e.hdr.size);

	CHECK(env, napi_create_buffer_copy(env, off, buf, &data, &out));
	return out;
}
