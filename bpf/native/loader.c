// SPDX-License-Identifier: Apache-2.0
/*
 * bpf-native-loader: the Node-API entry points. open() loads one rung of the
 * attach ladder and the DNS program (capture.c), start() runs the consumer
 * thread that hands ring-buffer records to JavaScript in batches
 * (consumer.c), layout() describes the records (layout.c); clocks and host
 * set-up are in host.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture.h"
#include "consumer.h"
#include "host.h"
#include "layout.h"
#include "libbpf_log.h"
#include "napi_helpers.h"
#include "pin.h"
#include "privileges.h"

#define MAX_EXCLUDES 256 /* the exclude maps' max_entries */

/* ---------- open() ---------- */

static void capture_finalize(napi_env env, void *data, void *hint)
{
	struct capture *c = data;
	(void)env;
	(void)hint;
	consumer_join(c);
	if (!c->closed)
		capture_destroy(c);
	capture_free(c);
}

static void set_step(napi_env env, napi_value obj, const struct step_result *r)
{
	set_bool(env, obj, "ok", r->ok);
	if (!r->ok && r->stage)
		set_str(env, obj, "stage", r->stage);
	if (!r->ok && r->err)
		set_int(env, obj, "errno", r->err);
	set_int(env, obj, "features", r->features);
	set_str(env, obj, "log", r->log);
	if (r->ok && r->program)
		set_str(env, obj, "program", r->program);
}

/* excludePorts: number[] and excludeCidrs: [{addr: Buffer(16), prefixlen}] into o; false when malformed. */
static bool read_excludes(napi_env env, napi_value opts, uint16_t *ports, struct ct_cidr_key *cidrs, struct capture_opts *o)
{
	napi_value arr, el, addr;
	uint32_t n = 0;

	if (get_prop(env, opts, "excludePorts", &arr) && napi_get_array_length(env, arr, &n) == napi_ok) {
		if (n > MAX_EXCLUDES)
			return false;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t p;
			if (napi_get_element(env, arr, i, &el) != napi_ok || napi_get_value_uint32(env, el, &p) != napi_ok || p > 65535)
				return false;
			ports[i] = (uint16_t)p;
		}
		o->n_excl_ports = n;
	}
	if (get_prop(env, opts, "excludeCidrs", &arr) && napi_get_array_length(env, arr, &n) == napi_ok) {
		if (n > MAX_EXCLUDES)
			return false;
		for (uint32_t i = 0; i < n; i++) {
			void *bytes;
			size_t blen;
			if (napi_get_element(env, arr, i, &el) != napi_ok || !get_prop(env, el, "addr", &addr) ||
			    napi_get_buffer_info(env, addr, &bytes, &blen) != napi_ok || blen != 16)
				return false;
			memset(&cidrs[i], 0, sizeof(cidrs[i]));
			memcpy(cidrs[i].addr, bytes, 16);
			int64_t len = get_int(env, el, "prefixlen", 128);
			if (len < 0 || len > 128)
				return false;
			cidrs[i].prefixlen = (uint32_t)len;
		}
		o->n_excl_cidrs = n;
	}
	return true;
}

/*
 * open({probe, ringBytes, wakeupBytes, dnsCap, captureDns, captureOutcome, captureConnectExit, connectExitTracepoint, captureExec, execArgsCap, cgroupPath, selfTgid, excludePorts, excludeCidrs, pinPath?, adopt?})
 * -> {ok, stage?, errno?, features, log, handle?, dns: {ok, stage?, errno?, features, log, adopted}, cookies: {same}, extras: {outcome, connectExit, exec: {same, program? when attached here}},
 *     persist: {state: "off"|"pinned"|"adopted"|"failed", error?}}
 */
static napi_value js_open(napi_env env, napi_callback_info info)
{
	static uint16_t ports[MAX_EXCLUDES];
	static struct ct_cidr_key cidrs[MAX_EXCLUDES];
	size_t argc = 1;
	static const char *const extra_keys[CT_EXTRA_COUNT] = {
		[CT_EXTRA_OUTCOME] = "outcome", [CT_EXTRA_CONNECT_EXIT] = "connectExit", [CT_EXTRA_EXEC] = "exec",
	};
	static const char *const extra_options[CT_EXTRA_COUNT] = {
		[CT_EXTRA_OUTCOME] = "captureOutcome", [CT_EXTRA_CONNECT_EXIT] = "captureConnectExit", [CT_EXTRA_EXEC] = "captureExec",
	};
	napi_value opts, res, dns, cookies, extras, persist, handle;
	char probe[32], cgpath[4096], pinpath[4096];
	struct capture_opts o = { 0 };
	struct capture *c;

	CHECK(env, napi_get_cb_info(env, info, &argc, &opts, NULL, NULL));
	CHECK(env, napi_create_object(env, &res));
	get_string(env, opts, "probe", probe, sizeof(probe));
	get_string(env, opts, "cgroupPath", cgpath, sizeof(cgpath));
	o.rung = ct_rung_by_name(probe);
	if (!o.rung) {
		napi_throw_range_error(env, NULL, "bpf-native-loader: open: unknown probe");
		return NULL;
	}
	o.cgroup_path = cgpath;
	if (get_string(env, opts, "pinPath", pinpath, sizeof(pinpath)) && pinpath[0]) {
		o.pin_path = pinpath;
		o.adopt = get_bool(env, opts, "adopt", false);
	}
	o.capture_dns = get_bool(env, opts, "captureDns", true);
	for (int i = 0; i < CT_EXTRA_COUNT; i++)
		o.capture_extra[i] = get_bool(env, opts, extra_options[i], true);
	o.connect_exit_tracepoint = get_bool(env, opts, "connectExitTracepoint", false);
	o.exec_args_cap = (uint32_t)get_int(env, opts, "execArgsCap", 2048);
	o.ring_bytes = (uint32_t)get_int(env, opts, "ringBytes", 4 << 20);
	o.wakeup_bytes = (uint64_t)get_int(env, opts, "wakeupBytes", o.ring_bytes / 4);
	o.dns_cap = (uint32_t)get_int(env, opts, "dnsCap", 512);
	o.self_tgid = (uint32_t)get_int(env, opts, "selfTgid", 0);
	o.excl_ports = ports;
	o.excl_cidrs = cidrs;
	if (!read_excludes(env, opts, ports, cidrs, &o)) {
		napi_throw_range_error(env, NULL, "bpf-native-loader: open: bad excludePorts or excludeCidrs");
		return NULL;
	}

	c = capture_open(&o);
	if (!c) {
		napi_throw_error(env, NULL, "bpf-native-loader: open: out of memory");
		return NULL;
	}
	set_step(env, res, &c->connect);
	if (napi_create_object(env, &dns) != napi_ok || napi_set_named_property(env, res, "dns", dns) != napi_ok)
		goto fail;
	set_step(env, dns, &c->dns);
	set_bool(env, dns, "adopted", c->dns_adopted);
	if (napi_create_object(env, &cookies) != napi_ok || napi_set_named_property(env, res, "cookies", cookies) != napi_ok)
		goto fail;
	set_step(env, cookies, &c->cookies);
	set_bool(env, cookies, "adopted", c->cookies_adopted);
	if (napi_create_object(env, &extras) != napi_ok || napi_set_named_property(env, res, "extras", extras) != napi_ok)
		goto fail;
	for (int i = 0; i < CT_EXTRA_COUNT; i++) {
		napi_value x;
		if (napi_create_object(env, &x) != napi_ok || napi_set_named_property(env, extras, extra_keys[i], x) != napi_ok)
			goto fail;
		set_step(env, x, &c->extra[i]);
		set_bool(env, x, "adopted", c->extra_adopted[i]);
	}
	if (napi_create_object(env, &persist) != napi_ok || napi_set_named_property(env, res, "persist", persist) != napi_ok)
		goto fail;
	set_str(env, persist, "state", c->persist);
	if (c->persist_error[0])
		set_str(env, persist, "error", c->persist_error);
	if (!c->connect.ok) {
		capture_free(c);
		return res;
	}
	if (napi_create_external(env, c, capture_finalize, NULL, &handle) != napi_ok)
		goto fail;
	if (napi_set_named_property(env, res, "handle", handle) != napi_ok)
		return NULL; /* the finalizer owns c now */
	return res;
fail:
	/* nothing else holds c yet: detach and free before throwing */
	capture_destroy(c);
	capture_free(c);
	throw_last(env, "open: reporting the result");
	return NULL;
}

/* ---------- calls on a capture ---------- */

/*
 * The arguments of fn(handle, ...): at most *argc into argv and the capture
 * of argv[0]; NULL, with a JS exception pending, when it is none.
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

static struct capture *capture_arg(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	return capture_args(env, info, argv, &argc);
}

/* start(handle, {pollMs, batchBytes, maxInflight, paused}, cb(data: Buffer|null, counters: Buffer, end: boolean)); paused: no thread until pause(handle, false) */
static napi_value js_start(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3];
	struct capture *c;
	int err;

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
	err = consumer_start(env, c, argv[2], get_bool(env, argv[1], "paused", false));
	if (err) {
		napi_throw_error(env, NULL, err == ENOMEM ? "start: out of memory" : "start: the consumer thread could not start");
		return NULL;
	}
	CHECK(env, napi_create_reference(env, argv[0], 1, &c->self_ref));
	return NULL;
}

/* requestStop(handle): the thread detaches, drains, sends a final batch with end=true. */
static napi_value js_request_stop(napi_env env, napi_callback_info info)
{
	struct capture *c;

	if (!(c = capture_arg(env, info)))
		return NULL;
	consumer_request_stop(c);
	return NULL;
}

/* close(handle): after the end batch (or if never started); frees every kernel object. */
static napi_value js_close(napi_env env, napi_callback_info info)
{
	struct capture *c;

	if (!(c = capture_arg(env, info)))
		return NULL;
	consumer_join(c);
	if (!c->closed)
		capture_destroy(c);
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
	if (!p && consumer_run(c))
		napi_throw_error(env, NULL, "resume: the consumer thread could not start");
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
		capture_read_counters(c, counters);
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
	set_int(env, out, "wakeups", (int64_t)atomic_load(&c->st_wakeups));
	set_int(env, out, "inflight", atomic_load(&c->inflight));
	return out;
}

/* The kernel id of a program or map fd (the id is the first field of both infos). */
static uint32_t obj_id(int fd)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

static void push_ids(napi_env env, struct bpf_object *obj, bool own_maps_only, napi_value progs, uint32_t *np, napi_value maps, uint32_t *nm)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	napi_value v;

	bpf_object__for_each_program(prog, obj) {
		uint32_t id = obj_id(bpf_program__fd(prog));
		if (id && napi_create_uint32(env, id, &v) == napi_ok)
			napi_set_element(env, progs, (*np)++, v);
	}
	bpf_object__for_each_map(map, obj) {
		if (own_maps_only && !bpf_map__is_internal(map))
			continue;
		uint32_t id = obj_id(bpf_map__fd(map));
		if (id && napi_create_uint32(env, id, &v) == napi_ok)
			napi_set_element(env, maps, (*nm)++, v);
	}
}

/* ids(handle) -> {programs: number[], maps: number[]}: kernel ids of what this capture loaded (shared maps once) */
static napi_value js_ids(napi_env env, napi_callback_info info)
{
	napi_value out, progs, maps;
	struct capture *c;
	uint32_t np = 0, nm = 0;

	if (!(c = capture_arg(env, info)))
		return NULL;
	CHECK(env, napi_create_object(env, &out));
	CHECK(env, napi_create_array(env, &progs));
	CHECK(env, napi_create_array(env, &maps));
	if (!c->closed && c->skel)
		push_ids(env, ct_skel_obj(c->skel), false, progs, &np, maps, &nm);
	if (!c->closed && c->dns_skel)
		push_ids(env, ct_skel_obj(c->dns_skel), true, progs, &np, maps, &nm);
	if (!c->closed && c->cookie_skel)
		push_ids(env, ct_skel_obj(c->cookie_skel), true, progs, &np, maps, &nm);
	for (int i = 0; !c->closed && i < CT_EXTRA_COUNT; i++)
		if (c->extra_skel[i])
			push_ids(env, ct_skel_obj(c->extra_skel[i]), true, progs, &np, maps, &nm);
	/* adopted links: their programs were loaded by the conntrail that pinned them */
	for (int i = 0; !c->closed && i < c->nlinks; i++) {
		struct bpf_link_info li;
		uint32_t len = sizeof(li);
		napi_value v;
		bool seen = false;

		memset(&li, 0, sizeof(li));
		if (!c->links[i] || bpf_obj_get_info_by_fd(bpf_link__fd(c->links[i]), &li, &len) || !li.prog_id)
			continue;
		for (uint32_t j = 0; j < np && !seen; j++) {
			napi_value el;
			uint32_t id = 0;
			if (napi_get_element(env, progs, j, &el) == napi_ok && napi_get_value_uint32(env, el, &id) == napi_ok)
				seen = id == li.prog_id;
		}
		if (!seen && napi_create_uint32(env, li.prog_id, &v) == napi_ok)
			napi_set_element(env, progs, np++, v);
	}
	napi_set_named_property(env, out, "programs", progs);
	napi_set_named_property(env, out, "maps", maps);
	return out;
}

/* ---------- capture.persist ---------- */

static const char *probe_name(uint32_t probe)
{
	for (size_t i = 0; i < ct_rung_count; i++)
		if (ct_rungs[i].probe == probe)
			return ct_rungs[i].name;
	return NULL;
}

/* pinInspect(dir) -> {present, tag?: {magic, version, probe, ringBytes, dns, cookies, outcome, connectExit, exec}, errno?}: what is pinned at dir */
static napi_value js_pin_inspect(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value arg, out, tagv;
	char dir[4096];
	struct ct_pin_tag tag;
	struct stat st;
	int err;

	CHECK(env, napi_get_cb_info(env, info, &argc, &arg, NULL, NULL));
	CHECK(env, napi_get_value_string_utf8(env, arg, dir, sizeof(dir), NULL));
	CHECK(env, napi_create_object(env, &out));
	set_bool(env, out, "present", stat(dir, &st) == 0);
	err = pin_read_tag(dir, &tag);
	if (err) {
		set_int(env, out, "errno", -err);
		return out;
	}
	CHECK(env, napi_create_object(env, &tagv));
	set_int(env, tagv, "magic", tag.magic);
	set_int(env, tagv, "version", tag.layout_version);
	set_str(env, tagv, "probe", probe_name(tag.probe) ?: "?");
	set_int(env, tagv, "ringBytes", tag.ring_bytes);
	set_bool(env, tagv, "dns", tag.flags & CT_PIN_DNS);
	set_bool(env, tagv, "cookies", tag.flags & CT_PIN_COOKIES);
	set_bool(env, tagv, "outcome", tag.flags & CT_PIN_OUTCOME);
	set_bool(env, tagv, "connectExit", tag.flags & CT_PIN_CONNECT_EXIT);
	set_bool(env, tagv, "exec", tag.flags & CT_PIN_EXEC);
	CHECK(env, napi_set_named_property(env, out, "tag", tagv));
	return out;
}

/* pinRemove(dir) -> {ok, nothing, removed, counted, records, bytes, error?}: unpins everything (conntrail detach, a replaced instance) */
static napi_value js_pin_remove(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value arg, out;
	char dir[4096], msg[512];
	struct pin_removal r;
	int err;

	CHECK(env, napi_get_cb_info(env, info, &argc, &arg, NULL, NULL));
	CHECK(env, napi_get_value_string_utf8(env, arg, dir, sizeof(dir), NULL));
	err = pin_remove(dir, &r, msg, sizeof(msg));
	CHECK(env, napi_create_object(env, &out));
	set_bool(env, out, "ok", err == 0 || err == -ENOENT);
	set_bool(env, out, "nothing", err == -ENOENT);
	set_int(env, out, "removed", r.removed);
	set_bool(env, out, "counted", r.counted);
	set_int(env, out, "records", (int64_t)r.records);
	set_int(env, out, "bytes", (int64_t)r.bytes);
	if (err && err != -ENOENT) {
		set_str(env, out, "error", msg);
		set_int(env, out, "errno", -err);
	}
	return out;
}

/* onBpffs(path) -> whether path is on a bpffs mount */
static napi_value js_on_bpffs(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value arg, out;
	char dir[4096];

	CHECK(env, napi_get_cb_info(env, info, &argc, &arg, NULL, NULL));
	CHECK(env, napi_get_value_string_utf8(env, arg, dir, sizeof(dir), NULL));
	CHECK(env, napi_get_boolean(env, pin_on_bpffs(dir), &out));
	return out;
}

/* ---------- the rung table ---------- */

/* probes() -> the rung table's names, in table order (bpf/lib checks its ProbeName list against it) */
static napi_value js_probes(napi_env env, napi_callback_info info)
{
	napi_value out, v;
	(void)info;

	CHECK(env, napi_create_array(env, &out));
	for (size_t i = 0; i < ct_rung_count; i++) {
		CHECK(env, napi_create_string_utf8(env, ct_rungs[i].name, NAPI_AUTO_LENGTH, &v));
		CHECK(env, napi_set_element(env, out, (uint32_t)i, v));
	}
	return out;
}

#define FN(name, fn) { name, NULL, fn, NULL, NULL, NULL, napi_default, NULL }

static napi_value init(napi_env env, napi_value exports)
{
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
		FN("probes", js_probes),
		FN("clockOffsetNs", js_clock_offset),
		FN("boottimeNs", js_boottime),
		FN("sampleRecords", js_sample_records),
		FN("mountTracefs", js_mount_tracefs),
		FN("mountSecurityfs", js_mount_securityfs),
		FN("mountBpffs", js_mount_bpffs),
		FN("pinInspect", js_pin_inspect),
		FN("pinRemove", js_pin_remove),
		FN("onBpffs", js_on_bpffs),
		FN("libbpfVersion", js_libbpf_version),
		FN("releaseFreedMemory", js_release_freed_memory),
		FN("dropPrivileges", js_drop_privileges),
	};

	libbpf_log_init();
	if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok)
		return NULL;
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
