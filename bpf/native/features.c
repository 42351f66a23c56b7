// SPDX-License-Identifier: Apache-2.0
/*
 * What the running kernel allows: helpers per program type (libbpf's probes,
 * or BTF and the release where libbpf cannot probe), and how it makes netns
 * cookies. Read before load; the programs' .rodata ct_features carries it.
 */
#include "capture.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/btf.h>

static bool kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

/* Does the running kernel's BTF know helper `name` (enum bpf_func_id)? */
static bool btf_has_helper(const char *name)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool found = false;
	int id;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, "bpf_func_id", BTF_KIND_ENUM);
	if (id > 0) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const struct btf_enum *e = btf_enum(t);
		for (int i = 0; i < btf_vlen(t) && !found; i++)
			found = !strcmp(btf__name_by_offset(btf, e[i].name_off), name);
	}
	btf__free(btf);
	return found;
}

/*
 * Can programs of `type` call `helper`? A two-instruction program (call,
 * exit) tells: the verifier refuses an unknown or disallowed helper with one
 * of the messages below, anything else (even a refusal for another reason)
 * means the helper is allowed. As libbpf_probe_bpf_helper(), which libbpf 1.1
 * gets wrong on 6.12: it does not know that kernel's "cannot use helper".
 */
static bool helper_ok(enum bpf_prog_type type, enum bpf_func_id helper)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_JMP | BPF_CALL, .imm = helper },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	char log[4096] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = sizeof(log), .log_level = 1);
	sigset_t all, old;
	int fd, tries = 0;

	if (type == BPF_PROG_TYPE_CGROUP_SOCK_ADDR)
		opts.expected_attach_type = BPF_CGROUP_INET4_CONNECT;
	else if (type == BPF_PROG_TYPE_CGROUP_SOCK)
		opts.expected_attach_type = BPF_CGROUP_INET_SOCK_CREATE;
	/* signals blocked, as for the real load: under a profiler a pending signal fails the probe
	 * with EAGAIN and an empty log, which would read as "allowed" */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	do
		fd = bpf_prog_load(type, NULL, "GPL", insns, sizeof(insns) / sizeof(insns[0]), &opts);
	while (fd < 0 && errno == EAGAIN && ++tries < 5);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (fd >= 0) {
		close(fd);
		return true;
	}
	return !strstr(log, "invalid func ") && !strstr(log, "unknown func ") && !strstr(log, "cannot use helper");
}

uint32_t ct_probe_features(enum bpf_prog_type type)
{
	static uint32_t cache[64];
	static bool probed[64];
	uint32_t f = 0;

	if ((unsigned)type < 64 && probed[type])
		return cache[type];
	if (type == BPF_PROG_TYPE_LSM || type == BPF_PROG_TYPE_TRACING) {
		/* libbpf cannot probe these types (a load needs an attach target):
		 * tracing helpers are all there; get_current_task_btf came with its
		 * enum value (5.11), get_socket_cookie for tracing with 5.12 */
		f = CT_FEAT_TASK | CT_FEAT_READ_KERNEL | CT_FEAT_COMM | CT_FEAT_CGROUP_ID;
		if (btf_has_helper("BPF_FUNC_get_current_task_btf"))
			f |= CT_FEAT_TASK_BTF;
		if (kernel_at_least(5, 12))
			f |= CT_FEAT_SOCK_COOKIE;
	} else {
		if (helper_ok(type, BPF_FUNC_get_current_task_btf))
			f |= CT_FEAT_TASK_BTF;
		if (helper_ok(type, BPF_FUNC_get_current_task))
			f |= CT_FEAT_TASK;
		if (helper_ok(type, BPF_FUNC_probe_read_kernel))
			f |= CT_FEAT_READ_KERNEL;
		if (helper_ok(type, BPF_FUNC_get_current_comm))
			f |= CT_FEAT_COMM;
		if (helper_ok(type, BPF_FUNC_get_current_cgroup_id))
			f |= CT_FEAT_CGROUP_ID;
		if (type != BPF_PROG_TYPE_KPROBE && type != BPF_PROG_TYPE_TRACEPOINT && type != BPF_PROG_TYPE_RAW_TRACEPOINT) {
			/* these take the program's context: a kprobe's or tracepoint's has no socket */
			if (helper_ok(type, BPF_FUNC_get_socket_cookie))
				f |= CT_FEAT_SOCK_COOKIE;
			if (helper_ok(type, BPF_FUNC_get_netns_cookie))
				f |= CT_FEAT_NETNS_COOKIE;
		}
	}
	if ((unsigned)type < 64) {
		cache[type] = f;
		probed[type] = true;
	}
	return f;
}

/* struct net's cookie is an atomic64_t made on first use (before 5.12), not at netns creation */
bool ct_netns_cookie_lazy(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool lazy = false;
	int id;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, "net", BTF_KIND_STRUCT);
	if (id > 0) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const struct btf_member *m = btf_members(t);
		for (int i = 0; i < btf_vlen(t); i++) {
			if (strcmp(btf__name_by_offset(btf, m[i].name_off), "net_cookie"))
				continue;
			const struct btf_type *mt = btf__type_by_id(btf, m[i].type);
			while (mt && (btf_is_typedef(mt) || btf_is_mod(mt)))
				mt = btf__type_by_id(btf, mt->type);
			lazy = mt && btf_is_composite(mt);
			break;
		}
	}
	btf__free(btf);
	return lazy;
}
