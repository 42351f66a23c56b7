// SPDX-License-Identifier: Apache-2.0
/* Open, load and attach: the rung table, the kernel feature probes, the DNS object. */
#define _GNU_SOURCE
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "conntrail.skel.h"
#include "consumer.h"
#include "libbpf_log.h"
#include "pin.h"

const struct ct_rung ct_rungs[] = {
	{ "lsm", CT_PROBE_LSM, BPF_PROG_TYPE_LSM, false, { "ct_connect_lsm" } },
	{ "fentry", CT_PROBE_FENTRY, BPF_PROG_TYPE_TRACING, false, { "ct_connect_fentry" } },
	{ "kprobe", CT_PROBE_KPROBE, BPF_PROG_TYPE_KPROBE, false, { "ct_connect_kprobe" } },
	{ "cgroup", CT_PROBE_CGROUP, BPF_PROG_TYPE_CGROUP_SOCK_ADDR, true, { "ct_connect4", "ct_connect6" } },
	{ "tracepoint", CT_PROBE_TRACEPOINT, BPF_PROG_TYPE_TRACEPOINT, false, { "ct_connect_tp" } },
};
const size_t ct_rung_count = sizeof(ct_rungs) / sizeof(ct_rungs[0]);
const struct ct_rung ct_dns_rung = { "dns", CT_PROBE_DNS_SKB, BPF_PROG_TYPE_CGROUP_SKB, true, { "ct_dns_ingress" } };
const struct ct_rung ct_cookie_rung = { "cookies", 0, BPF_PROG_TYPE_CGROUP_SOCK, true, { "ct_sock_create" } };
const struct ct_rung ct_extra_rungs[CT_EXTRA_COUNT] = {
	[CT_EXTRA_OUTCOME] = { "outcome", 0, BPF_PROG_TYPE_RAW_TRACEPOINT, false, { "ct_outcome_state" } },
	[CT_EXTRA_CONNECT_EXIT] = { "connect_exit", 0, BPF_PROG_TYPE_TRACING, false, { "ct_connect_exit_fexit" } },
	[CT_EXTRA_EXEC] = { "exec", 0, BPF_PROG_TYPE_RAW_TRACEPOINT, false, { "ct_process_exec" } },
};
const struct ct_rung ct_connect_exit_tracepoint = { "connect_exit", 0, BPF_PROG_TYPE_TRACEPOINT, false, { "ct_outcome_syscall" } };
const uint32_t ct_extra_pin_flags[CT_EXTRA_COUNT] = {
	[CT_EXTRA_OUTCOME] = CT_PIN_OUTCOME, [CT_EXTRA_CONNECT_EXIT] = CT_PIN_CONNECT_EXIT, [CT_EXTRA_EXEC] = CT_PIN_EXEC,
};

const struct ct_rung *ct_rung_by_name(const char *name)
{
	for (size_t i = 0; i < ct_rung_count; i++)
		if (!strcmp(ct_rungs[i].name, name))
			return &ct_rungs[i];
	return NULL;
}

/* ---------- open / load / attach ---------- */

static void step_fail(struct step_result *r, const char *stage, int err)
{
	r->ok = false;
	r->stage = stage;
	r->err = err < 0 ? -err : err;
	if (!r->err)
		r->err = EINVAL;
	free(r->log);
	r->log = libbpf_log_snapshot();
}

/*
 * Opens the skeleton with only `rung`'s programs to load (none when adopting:
 * the pinned links hold the programs), features set for its program type.
 */
static struct conntrail_bpf *open_for(const struct ct_rung *rung, uint32_t ring_bytes, bool load_progs, struct step_result *r)
{
	struct conntrail_bpf *skel = conntrail_bpf__open();
	struct bpf_program *prog;
	int err;

	if (!skel) {
		step_fail(r, "open", errno);
		return NULL;
	}
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, false);
	for (int i = 0; i < CT_MAX_RUNG_PROGS && rung->progs[i]; i++) {
		prog = bpf_object__find_program_by_name(skel->obj, rung->progs[i]);
		if (!prog) {
			step_fail(r, "open", ENOENT);
			goto fail;
		}
		bpf_program__set_autoload(prog, load_progs);
	}
	r->features = ct_probe_features(rung->prog_type);
	skel->rodata->ct_features = r->features;
	err = bpf_map__set_max_entries(skel->maps.ct_events, ring_bytes);
	if (err) {
		step_fail(r, "open", err);
		goto fail;
	}
	return skel;
fail:
	conntrail_bpf__destroy(skel);
	return NULL;
}

static int load(struct conntrail_bpf *skel)
{
	sigset_t all, old;
	int err;

	/* The verifier gives up with EAGAIN when a signal is pending, and a profiler
	 * (node --cpu-prof: SIGPROF every ms) outlasts libbpf's few retries;
	 * blocked signals stay queued and arrive after the load. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = conntrail_bpf__load(skel);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

static int attach_rung(struct capture *c, struct conntrail_bpf *skel, const struct ct_rung *rung)
{
	for (int i = 0; i < CT_MAX_RUNG_PROGS && rung->progs[i]; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(skel->obj, rung->progs[i]);
		struct bpf_link *l;

		if (c->nlinks >= CT_MAX_LINKS)
			return -E2BIG;
		if (rung->on_cgroup && c->cgroup_fd < 0)
			return -ENOENT;
		l = rung->on_cgroup ? bpf_program__attach_cgroup(prog, c->cgroup_fd) : bpf_program__attach(prog);
		if (!l)
			return -errno;
		c->link_rung[c->nlinks] = rung;
		c->link_prog[c->nlinks] = i;
		c->links[c->nlinks++] = l;
	}
	return 0;
}

/* Empties a hash or LPM map (an adopted instance's excludes make way for this configuration's). */
static int clear_map(struct bpf_map *m, size_t key_size)
{
	uint8_t key[key_size];
	int fd = bpf_map__fd(m);

	while (!bpf_map_get_next_key(fd, NULL, key))
		if (bpf_map_delete_elem(fd, key))
			return -errno;
	return 0;
}

static int write_config(struct capture *c, const struct capture_opts *o)
{
	struct ct_config cfg = { 0 };
	uint32_t zero = 0;
	uint8_t one = 1;
	int err;

	if (o->adopt && ((err = clear_map(c->skel->maps.ct_excl_ports, sizeof(uint16_t))) ||
			 (err = clear_map(c->skel->maps.ct_excl_cidrs, sizeof(struct ct_cidr_key)))))
		return err;

	for (size_t i = 0; i < o->n_excl_ports; i++) {
		if (bpf_map__update_elem(c->skel->maps.ct_excl_ports, &o->excl_ports[i], sizeof(uint16_t), &one, 1, 0))
			return -errno;
		cfg.flags |= CT_CFG_EXCL_PORTS;
	}
	for (size_t i = 0; i < o->n_excl_cidrs; i++) {
		if (bpf_map__update_elem(c->skel->maps.ct_excl_cidrs, &o->excl_cidrs[i], sizeof(struct ct_cidr_key), &one, 1, 0))
			return -errno;
		cfg.flags |= CT_CFG_EXCL_CIDRS;
	}
	cfg.self_tgid = o->self_tgid;
	cfg.dns_cap = o->dns_cap > CT_DNS_MAX_CAP ? CT_DNS_MAX_CAP : o->dns_cap;
	cfg.wakeup_bytes = o->wakeup_bytes;
	cfg.exec_args_cap = o->exec_args_cap > CT_EXEC_MAX_ARGS ? CT_EXEC_MAX_ARGS : o->exec_args_cap;
	if (bpf_map__update_elem(c->skel->maps.ct_config, &zero, sizeof(zero), &cfg, sizeof(cfg), 0))
		return -errno;
	return 0;
}

/* The DNS object shares every map of the connect object but its own .rodata (features differ by type). */
static int share_maps(struct conntrail_bpf *from, struct conntrail_bpf *to)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, to->obj) {
		struct bpf_map *src;
		int err;

		if (bpf_map__is_internal(m))
			continue;
		src = bpf_object__find_map_by_name(from->obj, bpf_map__name(m));
		if (!src)
			return -ENOENT;
		err = bpf_map__reuse_fd(m, bpf_map__fd(src));
		if (err)
			return err;
	}
	return 0;
}

/* A program beside the rung (DNS, cookies, the extras): its own object sharing the rung's maps; failing it fails only itself. */
static struct conntrail_bpf *open_companion(struct capture *c, const struct ct_rung *rung, uint32_t ring_bytes, struct step_result *r)
{
	struct conntrail_bpf *skel;
	int err, first;

	libbpf_log_reset();
	skel = open_for(rung, ring_bytes, true, r);
	if (!skel)
		return NULL;
	err = share_maps(c->skel, skel);
	if (err) {
		step_fail(r, "open", err);
		goto fail;
	}
	err = load(skel);
	if (err) {
		step_fail(r, "load", err);
		goto fail;
	}
	first = c->nlinks;
	err = attach_rung(c, skel, rung);
	if (err) {
		step_fail(r, "attach", err);
		/* a companion of two programs attaches both or neither */
		while (c->nlinks > first)
			bpf_link__destroy(c->links[--c->nlinks]);
		goto fail;
	}
	r->ok = true;
	r->program = rung->progs[0];
	r->log = libbpf_log_snapshot();
	return skel;
fail:
	conntrail_bpf__destroy(skel);
	return NULL;
}

/* Does the rung need the cookie maker: it cannot call bpf_get_socket_cookie, or netns cookies are lazy? */
static bool needs_cookie_maker(const struct ct_rung *rung, uint32_t features)
{
	if (rung->prog_type == BPF_PROG_TYPE_CGROUP_SOCK_ADDR)
		return false; /* calls both helpers itself */
	return !(features & CT_FEAT_SOCK_COOKIE) || ct_netns_cookie_lazy();
}

/* A companion of an adopted capture keeps its pinned link; else (or when it has none) it is attached here. */
static struct conntrail_bpf *companion(struct capture *c, const struct ct_rung *rung, const struct capture_opts *o,
				       struct step_result *r, bool *adopted)
{
	char msg[256];

	if (o->adopt && !pin_open_links(c, rung, o->pin_path, msg, sizeof(msg))) {
		r->ok = true;
		r->features = ct_probe_features(rung->prog_type);
		*adopted = true;
		return NULL;
	}
	return open_companion(c, rung, o->ring_bytes, r);
}

/* The rung's links: the pinned ones when adopting, else attached now. */
static int connect_links(struct capture *c, const struct capture_opts *o, struct step_result *r)
{
	if (!o->adopt)
		return attach_rung(c, c->skel, o->rung);
	if (pin_open_links(c, o->rung, o->pin_path, c->persist_error, sizeof(c->persist_error))) {
		r->stage = "adopt";
		return -ENOENT;
	}
	return 0;
}

struct capture *capture_open(const struct capture_opts *o)
{
	struct capture *c = calloc(1, sizeof(*c));
	const struct ct_rung *rung = o->rung;
	struct step_result *r;
	int err;

	if (!c)
		return NULL;
	r = &c->connect;
	c->rung = rung;
	c->stop_fd = c->wait_fd = c->stop_wait_fd = -1;
	c->cgroup_fd = -1;
	c->counters_fd = -1;
	c->ncpus = libbpf_num_possible_cpus();
	c->dns.stage = "disabled";
	for (int i = 0; i < CT_EXTRA_COUNT; i++)
		c->extra[i].stage = "disabled";
	c->persist = "off";

	libbpf_log_reset();
	c->skel = open_for(rung, o->ring_bytes, !o->adopt, r);
	if (!c->skel)
		return c;
	if (o->adopt) {
		err = pin_reuse_maps(c->skel->obj, o->pin_path, c->persist_error, sizeof(c->persist_error));
		if (err) {
			step_fail(r, "adopt", err);
			goto fail;
		}
	}
	err = load(c->skel);
	if (err) {
		if (o->adopt)
			snprintf(c->persist_error, sizeof(c->persist_error), "reuse the maps pinned at %s: %s (another layout)",
				 o->pin_path, strerrorname_np(-err) ?: "?");
		step_fail(r, o->adopt ? "adopt" : "load", err);
		goto fail;
	}
	c->counters_fd = bpf_map__fd(c->skel->maps.ct_counters);
	err = write_config(c, o);
	if (err) {
		step_fail(r, "config", err);
		goto fail;
	}
	if (rung->on_cgroup || o->capture_dns) {
		c->cgroup_fd = open(o->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (c->cgroup_fd < 0 && rung->on_cgroup && !o->adopt) {
			step_fail(r, "attach", errno);
			goto fail;
		}
	}
	err = connect_links(c, o, r);
	if (err) {
		step_fail(r, o->adopt ? "adopt" : "attach", err);
		goto fail;
	}
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.ct_events), consumer_on_sample, c, NULL);
	if (!c->rb) {
		step_fail(r, "ringbuf", errno);
		goto fail;
	}
	r->ok = true;
	r->log = libbpf_log_snapshot();
	if (needs_cookie_maker(rung, r->features)) {
		if (c->cgroup_fd < 0)
			c->cgroup_fd = open(o->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (c->cgroup_fd >= 0 || o->adopt)
			c->cookie_skel = companion(c, &ct_cookie_rung, o, &c->cookies, &c->cookies_adopted);
		else
			step_fail(&c->cookies, "attach", errno);
	} else {
		c->cookies.stage = "disabled";
	}
	if (o->capture_dns) {
		if (c->cgroup_fd < 0 && !o->adopt) {
			libbpf_log_reset();
			step_fail(&c->dns, "attach", ENOENT);
		} else {
			c->dns_skel = companion(c, &ct_dns_rung, o, &c->dns, &c->dns_adopted);
		}
	}
	for (int i = 0; i < CT_EXTRA_COUNT; i++) {
		if (!o->capture_extra[i])
			continue;
		c->extra_skel[i] = companion(c, &ct_extra_rungs[i], o, &c->extra[i], &c->extra_adopted[i]);
		if (!c->extra[i].ok && i == CT_EXTRA_CONNECT_EXIT && o->connect_exit_tracepoint) {
			free(c->extra[i].log);
			memset(&c->extra[i], 0, sizeof(c->extra[i]));
			c->extra_skel[i] = open_companion(c, &ct_connect_exit_tracepoint, o->ring_bytes, &c->extra[i]);
		}
	}
	if (o->pin_path) {
		c->persist = o->adopt ? "adopted" : "pinned";
		if (pin_capture(c, o->pin_path, c->persist_error, sizeof(c->persist_error)))
			c->persist = "failed";
	}
	return c;
fail:
	capture_destroy(c);
	return c;
}

void capture_detach(struct capture *c)
{
	for (int i = 0; i < c->nlinks; i++) {
		if (c->links[i])
			bpf_link__destroy(c->links[i]);
		c->links[i] = NULL;
	}
	c->nlinks = 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void capture_destroy(struct capture *c)
{
	capture_detach(c);
	if (c->rb)
		ring_buffer__free(c->rb);
	c->rb = NULL;
	if (c->dns_skel)
		conntrail_bpf__destroy(c->dns_skel);
	c->dns_skel = NULL;
	if (c->cookie_skel)
		conntrail_bpf__destroy(c->cookie_skel);
	c->cookie_skel = NULL;
	for (int i = 0; i < CT_EXTRA_COUNT; i++) {
		if (c->extra_skel[i])
			conntrail_bpf__destroy(c->extra_skel[i]);
		c->extra_skel[i] = NULL;
	}
	if (c->skel)
		conntrail_bpf__destroy(c->skel);
	c->skel = NULL;
	c->counters_fd = -1;
	close_fd(&c->cgroup_fd);
	free(c->buf);
	c->buf = NULL;
	close_fd(&c->stop_fd);
	close_fd(&c->wait_fd);
	close_fd(&c->stop_wait_fd);
	c->closed = true;
}

void capture_free(struct capture *c)
{
	if (!c)
		return;
	free(c->connect.log);
	free(c->dns.log);
	free(c->cookies.log);
	for (int i = 0; i < CT_EXTRA_COUNT; i++)
		free(c->extra[i].log);
	free(c);
}

void capture_read_counters(struct capture *c, uint64_t out[CT_CNT_MAX])
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

struct bpf_object *ct_skel_obj(struct conntrail_bpf *skel)
{
	return skel->obj;
}
