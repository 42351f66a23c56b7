/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * raw tracepoint sched_process_exec (attached by name: no tracefs needed), beside whichever rung captures
 * connects: the new image's path and argv, the parent and the start time, so
 * that a process which connects and exits before userspace reads /proc
 * still gets its executable, arguments and parent.
 */
#include "common.bpf.h"
#include <bpf/bpf_tracing.h>

SEC("raw_tp/sched_process_exec")
int BPF_PROG(ct_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task;
	struct ct_exec_scratch *s;
	struct ct_config *cfg;
	__u32 zero = 0, cap;
	__u64 uid_gid, arg_start, arg_end, n = 0;
	long len;

	ct_count(CT_CNT_EXEC_SEEN);
	if (!CT_HAS(CT_FEAT_TASK) || !CT_HAS(CT_FEAT_READ_KERNEL))
		return 0;
	s = bpf_map_lookup_elem(&ct_exec_scratch, &zero);
	if (!s)
		return 0;
	cfg = ct_cfg();
	task = (struct task_struct *)bpf_get_current_task();
	uid_gid = bpf_get_current_uid_gid();

	s->e.hdr.kind = CT_KIND_EXEC;
	s->e.hdr.probe = CT_PROBE_EXEC;
	s->e.hdr.flags = 0;
	s->e.hdr.reserved = 0;
	s->e.hdr.ktime_ns = bpf_ktime_get_boot_ns();
	s->e.pid = bpf_get_current_pid_tgid() >> 32;
	s->e.ppid = BPF_CORE_READ(task, real_parent, tgid);
	s->e.proc_start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	s->e.uid = (__u32)uid_gid;
	s->e.gid = uid_gid >> 32;
	s->e.reserved = 0;
	bpf_get_current_comm(s->e.comm, sizeof(s->e.comm));

	len = bpf_probe_read_kernel_str(s->filename, sizeof(s->filename), BPF_CORE_READ(bprm, filename));
	s->e.filename_len = len > 0 ? len - 1 : 0;
	if (len <= 0)
		s->filename[0] = 0;

	arg_start = BPF_CORE_READ(task, mm, arg_start);
	arg_end = BPF_CORE_READ(task, mm, arg_end);
	s->e.args_size = arg_end > arg_start ? arg_end - arg_start : 0;
	cap = cfg ? cfg->exec_args_cap : 0;
	n = s->e.args_size;
	if (n > cap)
		n = cap;
	if (n > CT_EXEC_MAX_ARGS)
		n = CT_EXEC_MAX_ARGS;
	barrier_var(n);
	if (n > 0 && n <= CT_EXEC_MAX_ARGS && bpf_probe_read_user(s->args, n, (void *)arg_start))
		n = 0;
	s->e.args_len = n;
	s->e.hdr.size = sizeof(s->e) + sizeof(s->filename) + n;
	if (n > CT_EXEC_MAX_ARGS)
		return 0;
	if (bpf_ringbuf_output(&ct_events, s, sizeof(s->e) + sizeof(s->filename) + n, ct_submit_flags(cfg, 0)))
		ct_count(CT_CNT_DROP_EXEC);
	return 0;
}
