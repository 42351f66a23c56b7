/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A capture: one connect rung of the attach ladder and, beside it, the DNS
 * program, each loaded as its own BPF object from the one skeleton (so a DNS
 * program the kernel refuses never takes connect capture down with it); the
 * DNS object reuses the connect object's maps, so both write the one ring.
 */
#ifndef CT_CAPTURE_H
#define CT_CAPTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "conntrail.h"
#include "napi_helpers.h"

struct conntrail_bpf; /* the skeleton (conntrail.skel.h), used by capture.c only */

#define CT_MAX_RUNG_PROGS 2
#define CT_MAX_LINKS 7

/* One row per way of capturing connects; the table drives load and attach. */
struct ct_rung {
	const char *name;              /* the ProbeName of bpf/lib */
	uint8_t probe;                 /* CT_PROBE_* */
	enum bpf_prog_type prog_type;  /* for the helper probes */
	bool on_cgroup;                /* attached to the cgroup v2 directory */
	const char *progs[CT_MAX_RUNG_PROGS];
};

extern const struct ct_rung ct_rungs[];
extern const size_t ct_rung_count;
extern const struct ct_rung ct_dns_rung;
/* cgroup/sock_create: makes socket and netns cookies for rungs that cannot (sock_cookies.bpf.c) */
extern const struct ct_rung ct_cookie_rung;
/*
 * The extras: programs beside the rung that add to its records, each its own
 * companion (one failing leaves the others): outcome (raw_tp
 * inet_sock_set_state: the handshake's end), connect_exit (fexit
 * __sys_connect: connect() failing at once) and exec (raw_tp
 * sched_process_exec). Their links are pinned where the kernel can pin them;
 * where not, they live with the process.
 */
enum ct_extra { CT_EXTRA_OUTCOME, CT_EXTRA_CONNECT_EXIT, CT_EXTRA_EXEC, CT_EXTRA_COUNT };
extern const struct ct_rung ct_extra_rungs[CT_EXTRA_COUNT];
/*
 * connect_exit where trampolines are refused, only when asked for
 * (connect_exit_tracepoint): tracepoint syscalls/sys_exit_connect needs tracefs,
 * and an enabled syscall tracepoint sends every system call on the host through
 * the slow exit path. Same name and pin files as the fexit one.
 */
extern const struct ct_rung ct_connect_exit_tracepoint;
/* CT_PIN_* of each extra's links */
extern const uint32_t ct_extra_pin_flags[CT_EXTRA_COUNT];

const struct ct_rung *ct_rung_by_name(const char *name);

/* CT_FEAT_* this kernel allows programs of this type (probed once per type; features.c). */
uint32_t ct_probe_features(enum bpf_prog_type type);
/* The kernel makes a netns cookie on first use only (an atomic64_t in struct net, before 5.12). */
bool ct_netns_cookie_lazy(void);

struct capture_opts {
	const struct ct_rung *rung;
	uint32_t ring_bytes;
	uint64_t wakeup_bytes;
	uint32_t dns_cap;
	bool capture_dns;
	bool capture_extra[CT_EXTRA_COUNT];
	bool connect_exit_tracepoint;  /* connect_exit: the syscall tracepoint where fexit is refused */
	uint32_t exec_args_cap;        /* argv bytes per exec record (<= CT_EXEC_MAX_ARGS) */
	const char *cgroup_path;
	uint32_t self_tgid;
	const uint16_t *excl_ports;
	size_t n_excl_ports;
	const struct ct_cidr_key *excl_cidrs;
	size_t n_excl_cidrs;
	const char *pin_path;          /* capture.persist: pin here after attach (NULL: not persisted) */
	bool adopt;                    /* open the instance pinned at pin_path instead of loading one */
};

/* Where a step failed: stage is "open", "adopt", "load", "config", "attach" or "ringbuf"; err a positive errno. */
struct step_result {
	bool ok;
	const char *stage;
	int err;
	uint32_t features;
	char *log;                     /* libbpf's messages for this step (malloc'd) */
	const char *program;           /* a companion attached here: its (first) program's name */
};

struct batch {
	uint8_t *data;
	size_t len;
	uint64_t counters[CT_CNT_MAX];
	bool end;
};

struct capture {
	const struct ct_rung *rung;
	struct conntrail_bpf *skel;      /* the connect rung */
	struct conntrail_bpf *dns_skel;  /* the DNS program (NULL when off or refused) */
	struct conntrail_bpf *cookie_skel; /* the cookie maker (NULL when the rung makes its own) */
	struct conntrail_bpf *extra_skel[CT_EXTRA_COUNT]; /* NULL when off, refused or adopted */
	struct ring_buffer *rb;
	struct bpf_link *links[CT_MAX_LINKS];
	const struct ct_rung *link_rung[CT_MAX_LINKS]; /* whose link: its pin is link_<rung>_<prog> */
	int link_prog[CT_MAX_LINKS];
	int nlinks;
	int cgroup_fd;
	int counters_fd;
	int ncpus;
	struct step_result connect, dns, cookies, extra[CT_EXTRA_COUNT];
	/* capture.persist: "off", "pinned" (attached here), "adopted", "failed" (persist_error says why) */
	const char *persist;
	char persist_error[512];
	bool dns_adopted, cookies_adopted, extra_adopted[CT_EXTRA_COUNT];

	/* consumer (consumer.c) */
	pthread_t thread;
	bool started, joined, closed;    /* started: consumer_start() done (the thread may be deferred) */
	bool thread_started;
	napi_threadsafe_function tsfn;
	napi_ref self_ref;
	atomic_bool stop_requested;
	atomic_bool paused;
	atomic_int inflight;
	int max_inflight;
	int poll_ms;
	int stop_fd;                     /* eventfd: stop() wakes the thread */
	int wait_fd, stop_wait_fd;       /* epoll sets: {stop, ring}, {stop} */
	uint8_t *buf;
	size_t len, cap;
	uint64_t last_counters[CT_CNT_MAX];

	/* statistics (written by the consumer thread, read racily for stats()) */
	atomic_uint_fast64_t st_records, st_bytes, st_batches, st_stalls, st_oversize, st_wakeups;
};

/*
 * Loads and attaches o->rung, then (if asked) the DNS program. NULL when out
 * of memory. c->connect says whether the rung works (when not, nothing stays
 * loaded); c->dns whether DNS does, independently.
 */
struct capture *capture_open(const struct capture_opts *o);
/* Detaches every program (the ring stays readable). */
void capture_detach(struct capture *c);
/* Frees every kernel object and buffer (not the struct). */
void capture_destroy(struct capture *c);
void capture_free(struct capture *c);
void capture_read_counters(struct capture *c, uint64_t out[CT_CNT_MAX]);
/* The bpf_object of a skeleton (for callers that do not include it). */
struct bpf_object *ct_skel_obj(struct conntrail_bpf *skel);

#endif
