// SPDX-License-Identifier: Apache-2.0
/*
 * bpf-native-loader: Node-API addon that opens conntrail's BPF object (the
 * skeleton embeds it), loads one rung of the attach ladder, attaches, and
 * hands ring-buffer records to JavaScript in batches.
 *
 * Threading: a consumer thread per capture polls the ring buffer (epoll with
 * a poll-interval timeout; the BPF side wakes it only when a quarter of the
 * ring is pending), copies records into a batch buffer framed as
 *   [u32 record length][u32 0][record][pad to 8]
 * and, once per poll, passes the batch plus the summed per-CPU counters to JS
 * through a napi_threadsafe_function: one JS call per batch. At most
 * max_inflight batches wait for JS; beyond that the thread stops consuming and
 * the kernel counts the records it cannot reserve (backpressure, bounded memory).
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "conntrail.h"
#include "conntrail.skel.h"

#define FRAME_HDR 8
#define ALIGN8(x) (((x) + 7) & ~(size_t)7)
#define MAX_FRAME (FRAME_HDR + ALIGN8(sizeof(struct ct_dns) + CT_DNS_MAX_CAP))
#define MIN_BATCH_BYTES (64 * 1024)
#define BATCH_FULL (-ENOBUFS)
#define MAX_LINKS 4

#define CHECK(env, call)                                                       \
	do {                                                                   \
		if ((call) != napi_ok) {                                       \
			throw_last(env, #call);                                \
			return NULL;                                           \
		}                                                              \
	} while (0)

/* ---------- libbpf log capture (for the attach report) ---------- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[16384];
static size_t log_len;
static bool log_debug;

static int log_cb(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *line = NULL;
	size_t n;

	if (level == LIBBPF_DEBUG && !log_debug)
		return 0;
	if (vasprintf(&line, fmt, ap) < 0 || !line)
		return 0;
	if (log_debug)
		fputs(line, stderr);
	n = strlen(line);
	pthread_mutex_lock(&log_mu);
	if (n >= sizeof(log_buf)) { /* a verifier log: keep its tail, the part that says why */
		memcpy(log_buf, line + n - (sizeof(log_buf) - 1), sizeof(log_buf) - 1);
		log_len = sizeof(log_buf) - 1;
	} else {
		if (log_len + n >= sizeof(log_buf)) {
			size_t keep = sizeof(log_buf) - 1 - n;
			memmove(log_buf, log_buf + log_len - keep, keep);
			log_len = keep;
		}
		memcpy(log_buf + log_len, line, n);
		log_len += n;
	}
	log_buf[log_len] = 0;
	pthread_mutex_unlock(&log_mu);
	free(line);
	return 0;
}

static void log_reset(void)
{
	pthread_mutex_lock(&log_mu);
	log_len = 0;
	log_buf[0] = 0;
	pthread_mutex_unlock(&log_mu);
}

/* ---------- capture handle ---------- */

struct batch {
	uint8_t *data;
	size_t len;
	uint64_t counters[CT_CNT_MAX];
	bool end;
};

struct capture {
	struct conntrail_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	int cgroup_fd;
	int counters_fd;
	int ncpus;

	/* consumer */
	pthread_t thread;
	bool started, joined, closed;
	napi_threadsafe_function tsfn;
	napi_ref self_ref;
	atomic_bool stop_requested;
	atomic_bool paused;
	atomic_int inflight;
	int max_inflight;
	int poll_ms;
	uint8_t *buf;
	size_t len, cap;
	uint64_t last_counters[CT_CNT_MAX];

	/* statistics (written by the consumer thread, read racily for stats()) */
	atomic_uint_fast64_t st_records, st_bytes, st_batches, st_stalls, st_oversize;
};

static void throw_last(napi_env env, const char *what)
{
	const napi_extended_error_info *info = NULL;
	bool pending = false;
	char msg[256];

	napi_is_exception_pending(env, &pending);
	if (pending)
		return;
	napi_get_last_error_info(env, &info);
	snprintf(msg, sizeof(msg), "bpf-native-loader: %s failed: %s", what,
		 info && info->error_message ? info->error_message : "unknown");
	napi_throw_error(env, NULL, msg);
}

static void close_links(struct capture *c)
{
	for (int i = 0; i < c->nlinks; i++) {
		if (c->links[i])
			bpf_link__destroy(c->links[i]);
		c->links[i] = NULL;
	}
	c->nlinks = 0;
}

static void destroy_capture(struct capture *c)
{
	close_links(c);
	if (c->rb)
		ring_buffer__free(c->rb);
	c->rb = NULL;
	if (c->skel)
		conntrail_bpf__destroy(c->skel);
	c->skel = NULL;
	if (c->cgroup_fd >= 0)
		close(c->cgroup_fd);
	c->cgroup_fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->closed = true;
}

static void read_counters(struct capture *c, uint64_t out[CT_CNT_MAX])
{
	uint64_t vals[c->ncpus > 0 ? c->ncpus : 1];

	for (uint32_t i = 0; i < CT_CNT_MAX; i++) {
		out[i] = 0;
		if (c->counters_fd < 0 || bpf_map_lookup_elem(c->counters_fd, &i, vals))
			continue;
		for (int cpu = 0; cpu < c->ncpus; cpu++)
			out[i] += vals[cpu];
	}
}

/* ---------- consumer thread ---------- */

static int on_sample(void *ctx, void *data, size_t size)
{
	struct capture *c = ctx;
	size_t need = FRAME_HDR + ALIGN8(size);
	uint32_t frame[2] = { (uint32_t)size, 0 };

	if (need > c->cap - c->len) {
		/* cannot happen while records are <= MAX_FRAME; never lose silently */
		atomic_fetch_add(&c->st_oversize, 1);
		return 0;
	}
	memcpy(c->buf + c->len, frame, FRAME_HDR);
	memcpy(c->buf + c->len + FRAME_HDR, data, size);
	if (need > FRAME_HDR + size)
		memset(c->buf + c->len + FRAME_HDR + size, 0, need - FRAME_HDR - size);
	c->len += need;
	atomic_fetch_add(&c->st_records, 1);
	/* stop consuming (the record stays in the ring) once another might not fit */
	return c->cap - c->len < MAX_FRAME ? BATCH_FULL : 0;
}

static void send_batch(struct capture *c, const uint64_t counters[CT_CNT_MAX], bool end)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (!b)
		return;
	if (c->len) {
		b->data = malloc(c->len);
		if (!b->data) {
			free(b);
			return;
		}
		memcpy(b->data, c->buf, c->len);
		b->len = c->len;
	}
	memcpy(b->counters, counters, sizeof(b->counters));
	memcpy(c->last_counters, counters, sizeof(c->last_counters));
	b->end = end;
	atomic_fetch_add(&c->st_batches, 1);
	atomic_fetch_add(&c->st_bytes, c->len);
	c->len = 0;
	atomic_fetch_add(&c->inflight, 1);
	if (napi_call_threadsafe_function(c->tsfn, b, napi_tsfn_blocking) != napi_ok) {
		atomic_fetch_sub(&c->inflight, 1);
		free(b->data);
		free(b);
	}
}

static void flush(struct capture *c, bool force)
{
	uint64_t counters[CT_CNT_MAX];

	read_counters(c, counters);
	if (!force && c->len == 0 && !memcmp(counters, c->last_counters, sizeof(counters)))
		return;
	send_batch(c, counters, false);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Consume until the ring is empty, sending a batch whenever one fills. */
static void drain(struct capture *c, bool respect_backpressure)
{
	for (;;) {
		int err = ring_buffer__consume(c->rb);
		if (err != BATCH_FULL)
			return;
		flush(c, true);
		if (respect_backpressure && atomic_load(&c->inflight) >= c->max_inflight)
			return;
	}
}

static void *consumer_main(void *arg)
{
	struct capture *c = arg;
	uint64_t counters[CT_CNT_MAX];

	while (!atomic_load(&c->stop_requested)) {
		if (atomic_load(&c->paused) || atomic_load(&c->inflight) >= c->max_inflight) {
			atomic_fetch_add(&c->st_stalls, 1);
			sleep_ms(c->poll_ms);
			continue;
		}
		int err = ring_buffer__poll(c->rb, c->poll_ms); /* returns early on a forced wake-up */
		if (err == BATCH_FULL)
			flush(c, true);
		else if (err < 0 && err != -EINTR)
			sleep_ms(c->poll_ms); /* unexpected (e.g. EBADF): never spin */
		drain(c, true);
		flush(c, false);
	}
	/* stop(): detach first, then hand over everything still in the ring */
	close_links(c);
	drain(c, false);
	read_counters(c, counters);
	send_batch(c, counters, true);
	napi_release_threadsafe_function(c->tsfn, napi_tsfn_release);
	return NULL;
}

/* Runs on the JS thread: one call per batch. */
static void call_js(napi_env env, napi_value js_cb, void *context, void *data)
{
	struct capture *c = context;
	struct batch *b = data;
	napi_value argv[3], undef, result;
	void *cdata;

	if (env == NULL || js_cb == NULL) { /* tearing down: the capture may be gone */
		free(b->data);
		free(b);
		return;
	}
	if (b->len) {
		void *copy;
		if (napi_create_buffer_copy(env, b->len, b->data, &copy, &argv[0]) != napi_ok)
			napi_get_null(env, &argv[0]);
	} else {
		napi_get_null(env, &argv[0]);
	}
	if (napi_create_buffer(env, sizeof(b->counters), &cdata, &argv[1]) == napi_ok)
		memcpy(cdata, b->counters, sizeof(b->counters));
	else
		napi_get_null(env, &argv[1]);
	napi_get_boolean(env, b->end, &argv[2]);
	napi_get_undefined(env, &undef);
	atomic_fetch_sub(&c->inflight, 1);
	free(b->data);
	free(b);
	if (napi_call_function(env, undef, js_cb, 3, argv, &result) == napi_pending_exception) {
		napi_value exc;
		napi_get_and_clear_last_exception(env, &exc);
		napi_fatal_exception(env, exc);
	}
}

/* ---------- helpers for reading JS options ---------- */

static bool get_prop(napi_env env, napi_value obj, const char *name, napi_value *out)
{
	bool has = false;
	napi_valuetype t;

	if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has)
		return false;
	if (napi_get_named_property(env, obj, name, out) != napi_ok)
		return false;
	napi_typeof(env, *out, &t);
	return t != napi_undefined && t != napi_null;
}

static int64_t get_int(napi_env env, napi_value obj, const char *name, int64_t def)
{
	napi_value v;
	int64_t r;

	if (!get_prop(env, obj, name, &v) || napi_get_value_int64(env, v, &r) != napi_ok)
		return def;
	return r;
}

static bool get_bool(napi_env env, napi_value obj, const char *name, bool def)
{
	napi_value v;
	bool r;

	if (!get_prop(env, obj, name, &v) || napi_get_value_bool(env, v, &r) != napi_ok)
		return def;
	return r;
}

static bool get_string(napi_env env, napi_value obj, const char *name, char *buf, size_t size)
{
	napi_value v;
	size_t n;

	buf[0] = 0;
	if (!get_prop(env, obj, name, &v))
		return false;
	return napi_get_value_string_utf8(env, v, buf, size, &n) == napi_ok;
}

static void set_int(napi_env env, napi_value obj, const char *name, int64_t v)
{
	napi_value x;
	napi_create_int64(env, v, &x);
	napi_set_named_property(env, obj, name, x);
}

static void set_str(napi_env env, napi_value obj, const char *name, const char *s)
{
	napi_value x;
	napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &x);
	napi_set_named_property(env, obj, name, x);
}

static void set_bool(napi_env env, napi_value obj, const char *name, bool b)
{
	napi_value x;
	napi_get_boolean(env, b, &x);
	napi_set_named_property(env, obj, name, x);
}

static void set_log(napi_env env, napi_value obj)
{
	pthread_mutex_lock(&log_mu);
	set_str(env, obj, "log", log_buf);
	pthread_mutex_unlock(&log_mu);
}

/* ---------- open(): one rung of the ladder ---------- */

static void capture_finalize(napi_env env, void *data, void *hint)
{
	struct capture *c = data;
	(void)env;
	(void)hint;
	if (c->started && !c->joined) {
		atomic_store(&c->stop_requested, true);
		pthread_join(c->thread, NULL);
	}
	if (!c->closed)
		destroy_capture(c);
	free(c);
}

static napi_value fail(napi_env env, napi_value res, struct capture *c, const char *stage, int err)
{
	set_bool(env, res, "ok", false);
	set_str(env, res, "stage", stage);
	set_int(env, res, "errno", err < 0 ? -err : err);
	set_log(env, res);
	destroy_capture(c);
	free(c);
	return res;
}

static int attach(struct capture *c, struct bpf_program *prog, bool cgroup)
{
	struct bpf_link *l;

	if (c->nlinks >= MAX_LINKS)
		return -E2BIG;
	l = cgroup ? bpf_program__attach_cgroup(prog, c->cgroup_fd) : bpf_program__attach(prog);
	if (!l)
		return -errno;
	c->links[c->nlinks++] = l;
	return 0;
}

static int fill_excludes(napi_env env, napi_value opts, struct capture *c, uint32_t *flags)
{
	napi_value arr, el;
	uint32_t n = 0;
	uint8_t one = 1;

	if (get_prop(env, opts, "excludePorts", &arr) && napi_get_array_length(env, arr, &n) == napi_ok) {
		for (uint32_t i = 0; i < n; i++) {
			uint32_t p;
			if (napi_get_element(env, arr, i, &el) != napi_ok ||
			    napi_get_value_uint32(env, el, &p) != napi_ok || p > 65535)
				return -EINVAL;
			uint16_t port = (uint16_t)p;
			if (bpf_map__update_elem(c->skel->maps.ct_excl_ports, &port, sizeof(port), &one, 1, 0))
				return -errno;
			*flags |= CT_CFG_EXCL_PORTS;
		}
	}
	if (get_prop(env, opts, "excludeCidrs", &arr) && napi_get_array_length(env, arr, &n) == napi_ok) {
		for (uint32_t i = 0; i < n; i++) {
			struct ct_cidr_key key = { 0 };
			napi_value addr;
			void *bytes;
			size_t blen;
			if (napi_get_element(env, arr, i, &el) != napi_ok || !get_prop(env, el, "addr", &addr) ||
			    napi_get_buffer_info(env, addr, &bytes, &blen) != napi_ok || blen != 16)
				return -EINVAL;
			memcpy(key.addr, bytes, 16);
			key.prefixlen = (uint32_t)get_int(env, el, "prefixlen", 128);
			if (key.prefixlen > 128)
				return -EINVAL;
			if (bpf_map__update_elem(c->skel->maps.ct_excl_cidrs, &key, sizeof(key), &one, 1, 0))
				return -errno;
			*flags |= CT_CFG_EXCL_CIDRS;
		}
	}
	return 0;
}

/*
 * open({probe, ringBytes, wakeupBytes, dnsCap, captureDns, cgroupPath, selfTgid,
 *       excludePorts, excludeCidrs: [{addr: Buffer(16), prefixlen}]})
 * -> {ok: true, handle, dns: {ok, errno?, stage?}} | {ok: false, stage, errno, log}
 */
static napi_value js_open(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value opts, res, dns, handle;
	char probe[32], cgpath[4096];
	struct capture *c;
	struct bpf_program *prog;
	struct ct_config cfg = { 0 };
	uint32_t zero = 0;
	bool capture_dns, need_cgroup;
	int err, cgroup_errno = 0;

	CHECK(env, napi_get_cb_info(env, info, &argc, &opts, NULL, NULL));
	CHECK(env, napi_create_object(env, &res));
	get_string(env, opts, "probe", probe, sizeof(probe));
	get_string(env, opts, "cgroupPath", cgpath, sizeof(cgpath));
	capture_dns = get_bool(env, opts, "captureDns", true);

	c = calloc(1, sizeof(*c));
	if (!c) {
		napi_throw_error(env, NULL, "out of memory");
		return NULL;
	}
	c->cgroup_fd = -1;
	c->counters_fd = -1;
	c->ncpus = libbpf_num_possible_cpus();
	log_reset();

	c->skel = conntrail_bpf__open();
	if (!c->skel)
		return fail(env, res, c, "open", errno ? errno : EINVAL);

	bpf_object__for_each_program(prog, c->skel->obj)
		bpf_program__set_autoload(prog, false);
	need_cgroup = capture_dns;
	if (!strcmp(probe, "lsm")) {
		bpf_program__set_autoload(c->skel->progs.ct_connect_lsm, true);
	} else if (!strcmp(probe, "fentry")) {
		bpf_program__set_autoload(c->skel->progs.ct_connect_fentry, true);
	} else if (!strcmp(probe, "kprobe")) {
		bpf_program__set_autoload(c->skel->progs.ct_connect_kprobe, true);
	} else if (!strcmp(probe, "cgroup")) {
		bpf_program__set_autoload(c->skel->progs.ct_connect4, true);
		bpf_program__set_autoload(c->skel->progs.ct_connect6, true);
		need_cgroup = true;
	} else if (!strcmp(probe, "tracepoint")) {
		bpf_program__set_autoload(c->skel->progs.ct_connect_tp, true);
	} else {
		return fail(env, res, c, "open", EINVAL);
	}
	if (capture_dns)
		bpf_program__set_autoload(c->skel->progs.ct_dns_ingress, true);

	err = bpf_map__set_max_entries(c->skel->maps.ct_events, (uint32_t)get_int(env, opts, "ringBytes", 4 << 20));
	if (err)
		return fail(env, res, c, "open", err);

	/* The verifier gives up with EAGAIN when a signal is pending, and a profiler
	 * (node --cpu-prof: SIGPROF every ms) or a busy timer outlasts libbpf's few
	 * retries; blocked signals stay queued and arrive after the load. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = conntrail_bpf__load(c->skel);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return fail(env, res, c, "load", err);
	c->counters_fd = bpf_map__fd(c->skel->maps.ct_counters);

	cfg.self_tgid = (uint32_t)get_int(env, opts, "selfTgid", 0);
	cfg.dns_cap = (uint32_t)get_int(env, opts, "dnsCap", 512);
	if (cfg.dns_cap > CT_DNS_MAX_CAP)
		cfg.dns_cap = CT_DNS_MAX_CAP;
	cfg.wakeup_bytes = (uint64_t)get_int(env, opts, "wakeupBytes", (4 << 20) / 4);
	err = fill_excludes(env, opts, c, &cfg.flags);
	if (err)
		return fail(env, res, c, "config", err);
	if (bpf_map__update_elem(c->skel->maps.ct_config, &zero, sizeof(zero), &cfg, sizeof(cfg), 0))
		return fail(env, res, c, "config", errno);

	if (need_cgroup) {
		c->cgroup_fd = open(cgpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		cgroup_errno = c->cgroup_fd < 0 ? errno : 0;
		if (c->cgroup_fd < 0 && !strcmp(probe, "cgroup"))
			return fail(env, res, c, "attach", cgroup_errno);
	}

	if (!strcmp(probe, "cgroup")) {
		err = attach(c, c->skel->progs.ct_connect4, true);
		if (!err)
			err = attach(c, c->skel->progs.ct_connect6, true);
	} else if (!strcmp(probe, "lsm")) {
		err = attach(c, c->skel->progs.ct_connect_lsm, false);
	} else if (!strcmp(probe, "fentry")) {
		err = attach(c, c->skel->progs.ct_connect_fentry, false);
	} else if (!strcmp(probe, "kprobe")) {
		err = attach(c, c->skel->progs.ct_connect_kprobe, false);
	} else {
		err = attach(c, c->skel->progs.ct_connect_tp, false);
	}
	if (err)
		return fail(env, res, c, "attach", err);

	CHECK(env, napi_create_object(env, &dns));
	if (capture_dns) {
		err = c->cgroup_fd < 0 ? -cgroup_errno : attach(c, c->skel->progs.ct_dns_ingress, true);
		set_bool(env, dns, "ok", err == 0);
		if (err) {
			set_str(env, dns, "stage", "attach");
			set_int(env, dns, "errno", -err);
		}
	} else {
		set_bool(env, dns, "ok", false);
		set_str(env, dns, "stage", "disabled");
	}

	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.ct_events), on_sample, c, NULL);
	if (!c->rb)
		return fail(env, res, c, "ringbuf", errno);

	CHECK(env, napi_create_external(env, c, capture_finalize, NULL, &handle));
	set_bool(env, res, "ok", true);
	CHECK(env, napi_set_named_property(env, res, "handle", handle));
	CHECK(env, napi_set_named_property(env, res, "dns", dns));
	set_log(env, res);
	return res;
}

/*
 * The arguments of a call on a capture (fn(handle, ...)): at most *argc into
 * argv (*argc becomes how many were passed, the rest are undefined) and the
 * capture of argv[0]; NULL, with a JS exception pending, when it is none.
 */
static struct capture *capture_args(napi_env env, napi_callback_info info, napi_value *argv, size_t *argc)
{
	void *p = NULL;
	if (napi_get_cb_info(env, info, argc, argv, NULL, NULL) != napi_ok) {
		throw_last(env, "napi_get_cb_info");
		return NULL;
	}
	if (napi_get_value_external(env, argv[0], &p) != napi_ok || !p) {
		napi_throw_type_error(env, NULL, "not a capture handle");
		return NULL;
	}
	return p;
}

/* fn(handle): its capture; NULL, with a JS exception pending, when it is none */
static struct capture *capture_arg(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	return capture_args(env, info, argv, &argc);
}

/* start(handle, {pollMs, batchBytes, maxInflight}, cb(data: Buffer|null, counters: Buffer, end: boolean)) */
static napi_value js_start(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3], name;
	struct capture *c;

	if (!(c = capture_args(env, info, argv, &argc)))
		return NULL;
	if (c->started || c->closed) {
		napi_throw_error(env, NULL, "capture already started or closed");
		return NULL;
	}
	c->poll_ms = (int)get_int(env, argv[1], "pollMs", 10);
	if (c->poll_ms < 1)
		c->poll_ms = 1;
	c->cap = (size_t)get_int(env, argv[1], "batchBytes", 1 << 20);
	if (c->cap < MIN_BATCH_BYTES)
		c->cap = MIN_BATCH_BYTES;
	c->max_inflight = (int)get_int(env, argv[1], "maxInflight", 4);
	if (c->max_inflight < 1)
		c->max_inflight = 1;
	c->buf = malloc(c->cap);
	if (!c->buf) {
		napi_throw_error(env, NULL, "out of memory");
		return NULL;
	}
	CHECK(env, napi_create_string_utf8(env, "conntrail-capture", NAPI_AUTO_LENGTH, &name));
	CHECK(env, napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL, NULL, c, call_js, &c->tsfn));
	CHECK(env, napi_create_reference(env, argv[0], 1, &c->self_ref));
	if (pthread_create(&c->thread, NULL, consumer_main, c)) {
		napi_release_threadsafe_function(c->tsfn, napi_tsfn_abort);
		napi_throw_error(env, NULL, "pthread_create failed");
		return NULL;
	}
	c->started = true;
	return NULL;
}

/* requestStop(handle): the thread detaches, drains, sends a final batch with end=true. */
static napi_value js_request_stop(napi_env env, napi_callback_info info)
{
	struct capture *c;

	if (!(c = capture_arg(env, info)))
		return NULL;
	atomic_store(&c->stop_requested, true);
	return NULL;
}

/* close(handle): after the end batch (or if never started); frees every kernel object. */
static napi_value js_close(napi_env env, napi_callback_info info)
{
	struct capture *c;

	if (!(c = capture_arg(env, info)))
		return NULL;
	if (c->started && !c->joined) {
		atomic_store(&c->stop_requested, true);
		pthread_join(c->thread, NULL);
		c->joined = true;
	}
	if (!c->closed)
		destroy_capture(c);
	if (c->self_ref) {
		napi_delete_reference(env, c->self_ref);
		c->self_ref = NULL;
	}
	return NULL;
}

static napi_value js_pause(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2];
	struct capture *c;
	bool p = true;

	if (!(c = capture_args(env, info, argv, &argc)))
		return NULL;
	if (argc > 1)
		napi_get_value_bool(env, argv[1], &p);
	atomic_store(&c->paused, p);
	return NULL;
}

/* counters(handle) -> Buffer of CT_CNT_MAX u64 (summed over CPUs) */
static napi_value js_counters(napi_env env, napi_callback_info info)
{
	napi_value out;
	struct capture *c;
	uint64_t counters[CT_CNT_MAX] = { 0 };
	void *data;

	if (!(c = capture_arg(env, info)))
		return NULL;
	if (!c->closed)
		read_counters(c, counters);
	CHECK(env, napi_create_buffer_copy(env, sizeof(counters), counters, &data, &out));
	return out;
}

static napi_value js_stats(napi_env env, napi_callback_info info)
{
	napi_value out;
	struct capture *c;

	if (!(c = capture_arg(env, info)))
		return NULL;
	CHECK(env, napi_create_object(env, &out));
	set_int(env, out, "records", (int64_t)atomic_load(&c->st_records));
	set_int(env, out, "bytes", (int64_t)atomic_load(&c->st_bytes));
	set_int(env, out, "batches", (int64_t)atomic_load(&c->st_batches));
	set_int(env, out, "stalls", (int64_t)atomic_load(&c->st_stalls));
	set_int(env, out, "oversize", (int64_t)atomic_load(&c->st_oversize));
	set_int(env, out, "inflight", atomic_load(&c->inflight));
	return out;
}

/* ids(handle) -> {programs: number[], maps: number[]}: kernel ids of what this capture loaded */
static uint32_t obj_id(int fd)
{
	struct bpf_prog_info info; /* the id is the first field of prog, map and link info alike */
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

static napi_value js_ids(napi_env env, napi_callback_info info)
{
	napi_value out, progs, maps, v;
	struct capture *c;
	struct bpf_program *prog;
	struct bpf_map *map;
	uint32_t np = 0, nm = 0;

	if (!(c = capture_arg(env, info)))
		return NULL;
	CHECK(env, napi_create_object(env, &out));
	CHECK(env, napi_create_array(env, &progs));
	CHECK(env, napi_create_array(env, &maps));
	if (!c->closed && c->skel) {
		bpf_object__for_each_program(prog, c->skel->obj) {
			uint32_t id = obj_id(bpf_program__fd(prog));
			if (!id)
				continue;
			napi_create_uint32(env, id, &v);
			napi_set_element(env, progs, np++, v);
		}
		bpf_object__for_each_map(map, c->skel->obj) {
			uint32_t id = obj_id(bpf_map__fd(map));
			if (!id)
				continue;
			napi_create_uint32(env, id, &v);
			napi_set_element(env, maps, nm++, v);
		}
	}
	napi_set_named_property(env, out, "programs", progs);
	napi_set_named_property(env, out, "maps", maps);
	return out;
}

/* ---------- layout, clock, test support ---------- */

struct named_int {
	const char *name;
	int64_t value;
};

/* parent[name] = {entries[i].name: entries[i].value, ...} */
static bool set_ints(napi_env env, napi_value parent, const char *name, const struct named_int *entries, size_t n)
{
	napi_value o;
	if (napi_create_object(env, &o) != napi_ok)
		return false;
	for (size_t i = 0; i < n; i++)
		set_int(env, o, entries[i].name, entries[i].value);
	return napi_set_named_property(env, parent, name, o) == napi_ok;
}

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

static napi_value js_layout(napi_env env, napi_callback_info info)
{
	napi_value l;
	(void)info;

	CHECK(env, napi_create_object(env, &l));
	set_int(env, l, "frameHeaderBytes", FRAME_HDR);
	set_int(env, l, "dnsMaxCap", CT_DNS_MAX_CAP);
	set_int(env, l, "commLen", CT_COMM_LEN);
	SET_INTS(env, l, "kinds",
		 { "connect", CT_KIND_CONNECT },
		 { "dns", CT_KIND_DNS });
	SET_INTS(env, l, "probes",
		 { "lsm", CT_PROBE_LSM },
		 { "fentry", CT_PROBE_FENTRY },
		 { "kprobe", CT_PROBE_KPROBE },
		 { "cgroup", CT_PROBE_CGROUP },
		 { "tracepoint", CT_PROBE_TRACEPOINT },
		 { "dnsSkb", CT_PROBE_DNS_SKB });
	SET_INTS(env, l, "flags",
		 { "toctou", CT_F_TOCTOU },
		 { "cookie", CT_F_COOKIE },
		 { "dnsTcp", CT_F_DNS_TCP });
	SET_INTS(env, l, "counters",
		 { "dropConnect", CT_CNT_DROP_CONNECT },
		 { "dropDns", CT_CNT_DROP_DNS },
		 { "dnsReadError", CT_CNT_DNS_READ_ERR },
		 { "connectSeen", CT_CNT_CONNECT_SEEN },
		 { "dnsSeen", CT_CNT_DNS_SEEN },
		 { "excludedSelf", CT_CNT_EXCL_SELF },
		 { "excludedPort", CT_CNT_EXCL_PORT },
		 { "excludedCidr", CT_CNT_EXCL_CIDR },
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
	return l;
}

/* realtime - boottime in ns, sampled tightly (the smallest of a few brackets) */
static napi_value js_clock_offset(napi_env env, napi_callback_info info)
{
	int64_t best_gap = INT64_MAX, best = 0;
	napi_value out;
	(void)info;

	for (int i = 0; i < 5; i++) {
		struct timespec b0, r, b1;
		clock_gettime(CLOCK_BOOTTIME, &b0);
		clock_gettime(CLOCK_REALTIME, &r);
		clock_gettime(CLOCK_BOOTTIME, &b1);
		int64_t nb0 = b0.tv_sec * 1000000000LL + b0.tv_nsec;
		int64_t nb1 = b1.tv_sec * 1000000000LL + b1.tv_nsec;
		int64_t nr = r.tv_sec * 1000000000LL + r.tv_nsec;
		if (nb1 - nb0 < best_gap) {
			best_gap = nb1 - nb0;
			best = nr - (nb0 + (nb1 - nb0) / 2);
		}
	}
	CHECK(env, napi_create_bigint_int64(env, best, &out));
	return out;
}

static napi_value js_boottime(napi_env env, napi_callback_info info)
{
	struct timespec ts;
	napi_value out;
	(void)info;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	CHECK(env, napi_create_bigint_uint64(env, (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec, &out));
	return out;
}

/*
 * sampleRecords() -> Buffer: a framed batch written by C with known values,
 * for the decoder's unit test: one IPv4 connect, one IPv6 connect, one DNS
 * reply with a 5-byte payload. The values are mirrored in test/unit/decode.test.ts.
 */
static size_t put_frame(uint8_t *buf, size_t off, const void *rec, size_t size)
{
	uint32_t frame[2] = { (uint32_t)size, 0 };
	memcpy(buf + off, frame, FRAME_HDR);
	memcpy(buf + off + FRAME_HDR, rec, size);
	return off + FRAME_HDR + ALIGN8(size);
}

static napi_value js_sample_records(napi_env env, napi_callback_info info)
{
	uint8_t buf[1024] = { 0 };
	size_t off = 0;
	struct ct_connect c4 = { 0 }, c6;
	struct {
		struct ct_dns d;
		uint8_t p[5];
	} d = { 0 };
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

	CHECK(env, napi_create_buffer_copy(env, off, buf, &data, &out));
	return out;
}

/* mountTracefs() -> 0 or errno: for the tracepoint rung when tracefs is not mounted */
static napi_value js_mount_tracefs(napi_env env, napi_callback_info info)
{
	napi_value out;
	int err = mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) ? errno : 0;
	(void)info;
	CHECK(env, napi_create_int32(env, err, &out));
	return out;
}

static napi_value js_libbpf_version(napi_env env, napi_callback_info info)
{
	napi_value out;
	(void)info;
	CHECK(env, napi_create_string_utf8(env, libbpf_version_string(), NAPI_AUTO_LENGTH, &out));
	return out;
}

#define FN(name, fn) { name, NULL, fn, NULL, NULL, NULL, napi_default, NULL }

static napi_value init(napi_env env, napi_value exports)
{
	const char *dbg = getenv("CONNTRAIL_LIBBPF_DEBUG");
	napi_property_descriptor props[] = {
		FN("open", js_open),
		FN("start", js_start),
		FN("requestStop", js_request_stop),
		FN("close", js_close),
		FN("pause", js_pause),
		FN("counters", js_counters),
		FN("stats", js_stats),
		FN("ids", js_ids),
		FN("layout", js_layout),
		FN("clockOffsetNs", js_clock_offset),
		FN("boottimeNs", js_boottime),
		FN("sampleRecords", js_sample_records),
		FN("mountTracefs", js_mount_tracefs),
		FN("libbpfVersion", js_libbpf_version),
	};

	log_debug = dbg && *dbg && strcmp(dbg, "0");
	libbpf_set_print(log_cb);
	if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok)
		return NULL;
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
