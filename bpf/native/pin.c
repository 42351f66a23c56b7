// SPDX-License-Identifier: Apache-2.0
/* capture.persist: pinning a capture in bpffs, adopting a pinned one, removing the pins (pin.h). */
#define _GNU_SOURCE
#include "pin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "conntrail.skel.h"

static const char *err_name(int err)
{
	const char *n = strerrorname_np(err < 0 ? -err : err);
	return n ? n : "EUNKNOWN";
}

/* "pin ring buffer at /sys/fs/bpf/conntrail/ct_events: EPERM" */
static int fail_msg(char *msg, size_t msglen, int err, const char *step, const char *what, const char *path)
{
	if (err > 0)
		err = -err;
	if (!err)
		err = -EINVAL;
	snprintf(msg, msglen, "%s %s at %s: %s", step, what, path, err_name(err));
	return err;
}

/* What a map is, for messages. */
static const char *map_role(const char *name)
{
	static const struct { const char *name, *role; } roles[] = {
		{ "ct_events", "ring buffer" },
		{ "ct_counters", "counters map" },
		{ "ct_config", "config map" },
		{ "ct_excl_ports", "excluded ports map" },
		{ "ct_excl_cidrs", "excluded CIDRs map" },
		{ "ct_outcome_skip", "excluded sockets map" },
		{ "ct_dns_scratch", "DNS scratch map" },
		{ "ct_exec_scratch", "exec scratch map" },
	};
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (!strcmp(roles[i].name, name))
			return roles[i].role;
	return name;
}

static void pin_file(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void link_file(char *out, size_t len, const char *dir, const struct ct_rung *rung, int i)
{
	snprintf(out, len, "%s/link_%s_%d", dir, rung->name, i);
}

bool pin_on_bpffs(const char *dir)
{
	struct statfs st;

	return statfs(dir, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

int pin_read_tag(const char *dir, struct ct_pin_tag *tag)
{
	char path[PATH_MAX];
	struct bpf_map_info info;
	uint32_t len = sizeof(info), zero = 0;
	int fd, err = 0;

	pin_file(path, sizeof(path), dir, "tag");
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		err = -errno;
	else if (info.type != BPF_MAP_TYPE_ARRAY || info.key_size != 4 || info.value_size != sizeof(*tag))
		err = -EPROTO;
	else if (bpf_map_lookup_elem(fd, &zero, tag))
		err = -errno;
	close(fd);
	return err;
}

int pin_reuse_maps(struct bpf_object *obj, const char *dir, char *msg, size_t msglen)
{
	char path[PATH_MAX];
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		int fd, err;

		if (bpf_map__is_internal(m))
			continue;
		pin_file(path, sizeof(path), dir, bpf_map__name(m));
		fd = bpf_obj_get(path);
		if (fd < 0)
			return fail_msg(msg, msglen, errno, "open pinned", map_role(bpf_map__name(m)), path);
		/* libbpf checks the shape (type, key, value, size) at load: another layout fails there */
		err = bpf_map__reuse_fd(m, fd);
		close(fd);
		if (err)
			return fail_msg(msg, msglen, err, "reuse pinned", map_role(bpf_map__name(m)), path);
	}
	return 0;
}

int pin_open_links(struct capture *c, const struct ct_rung *rung, const char *dir, char *msg, size_t msglen)
{
	char path[PATH_MAX];

	for (int i = 0; i < CT_MAX_RUNG_PROGS && rung->progs[i]; i++) {
		struct bpf_link *l;

		if (c->nlinks >= CT_MAX_LINKS)
			return -E2BIG;
		link_file(path, sizeof(path), dir, rung, i);
		l = bpf_link__open(path);
		if (!l) {
			int err = fail_msg(msg, msglen, errno, "open pinned", "link", path);
			/* all of the rung's links or none: the caller may attach it afresh */
			while (i-- > 0)
				bpf_link__destroy(c->links[--c->nlinks]);
			return err;
		}
		c->link_rung[c->nlinks] = rung;
		c->link_prog[c->nlinks] = i;
		c->links[c->nlinks++] = l;
	}
	return 0;
}

void pin_drop_links(const struct ct_rung *rung, const char *dir)
{
	char path[PATH_MAX];

	for (int i = 0; i < CT_MAX_RUNG_PROGS && rung->progs[i]; i++) {
		link_file(path, sizeof(path), dir, rung, i);
		unlink(path);
	}
}

/* By name: an extra's fallback (ct_connect_exit_tracepoint) is the same companion, with the same pin files. */
static bool has_link(const struct capture *c, const struct ct_rung *rung)
{
	for (int i = 0; i < c->nlinks; i++)
		if (!strcmp(c->link_rung[i]->name, rung->name))
			return true;
	return false;
}

/* The extras add to the records: a link of theirs the kernel cannot pin (tracepoints before 5.15) lives with the process. */
static bool is_extra(const struct ct_rung *rung)
{
	for (int i = 0; i < CT_EXTRA_COUNT; i++)
		if (!strcmp(ct_extra_rungs[i].name, rung->name))
			return true;
	return false;
}

/* All of the companion's links are pinned in dir. */
static bool companion_pinned(const struct capture *c, const struct ct_rung *rung, const char *dir)
{
	char path[PATH_MAX];

	if (!has_link(c, rung))
		return false;
	for (int i = 0; i < CT_MAX_RUNG_PROGS && rung->progs[i]; i++) {
		link_file(path, sizeof(path), dir, rung, i);
		if (access(path, F_OK))
			return false;
	}
	return true;
}

static uint32_t extra_pin_flags(const struct capture *c, const char *dir)
{
	uint32_t f = 0;

	for (int i = 0; i < CT_EXTRA_COUNT; i++)
		if (companion_pinned(c, &ct_extra_rungs[i], dir))
			f |= ct_extra_pin_flags[i];
	return f;
}

/* Writes the tag: into the pinned one when adopted, else a new map pinned at <dir>/tag. */
static int write_tag(const struct capture *c, const char *dir, char *msg, size_t msglen)
{
	struct ct_pin_tag tag = {
		.magic = CT_PIN_MAGIC,
		.layout_version = CT_LAYOUT_VERSION,
		.probe = c->rung->probe,
		.ring_bytes = bpf_map__max_entries(c->skel->maps.ct_events),
		.flags = (has_link(c, &ct_dns_rung) ? CT_PIN_DNS : 0) | (has_link(c, &ct_cookie_rung) ? CT_PIN_COOKIES : 0) |
			 extra_pin_flags(c, dir),
	};
	char path[PATH_MAX];
	uint32_t zero = 0;
	int fd, err = 0;
	bool fresh = false;

	pin_file(path, sizeof(path), dir, "tag");
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ct_pin_tag", sizeof(zero), sizeof(tag), 1, NULL);
		if (fd < 0)
			return fail_msg(msg, msglen, errno, "create", "tag map", path);
		fresh = true;
	}
	if (bpf_map_update_elem(fd, &zero, &tag, 0))
		err = fail_msg(msg, msglen, errno, "write", "tag", path);
	else if (fresh && bpf_obj_pin(fd, path))
		err = fail_msg(msg, msglen, errno, "pin", "tag", path);
	close(fd);
	return err;
}

static int pin_all(struct capture *c, const char *dir, char *msg, size_t msglen)
{
	char path[PATH_MAX];
	struct bpf_map *m;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return fail_msg(msg, msglen, errno, "create", "pin directory", dir);
	bpf_object__for_each_map(m, c->skel->obj) {
		if (bpf_map__is_internal(m))
			continue;
		pin_file(path, sizeof(path), dir, bpf_map__name(m));
		if (!access(path, F_OK))
			continue; /* adopted: it is this map */
		if (bpf_map__pin(m, path))
			return fail_msg(msg, msglen, errno, "pin", map_role(bpf_map__name(m)), path);
	}
	for (int i = 0; i < c->nlinks; i++) {
		link_file(path, sizeof(path), dir, c->link_rung[i], c->link_prog[i]);
		if (!access(path, F_OK))
			continue;
		if (bpf_link__pin(c->links[i], path)) {
			int err = -errno;
			if (err == -EINVAL && is_extra(c->link_rung[i])) {
				pin_drop_links(c->link_rung[i], dir);
				continue;
			}
			char what[64];
			snprintf(what, sizeof(what), "%s link", c->link_rung[i]->name);
			fail_msg(msg, msglen, err, "pin", what, path);
			if (err == -EINVAL) /* perf-event links (kprobe, tracepoint before 5.15) have no pin */
				strncat(msg, " (this kernel cannot pin this kind of link)", msglen - strlen(msg) - 1);
			return err;
		}
	}
	if (!has_link(c, &ct_dns_rung))
		pin_drop_links(&ct_dns_rung, dir);
	if (!has_link(c, &ct_cookie_rung))
		pin_drop_links(&ct_cookie_rung, dir);
	for (int i = 0; i < CT_EXTRA_COUNT; i++)
		if (!has_link(c, &ct_extra_rungs[i]))
			pin_drop_links(&ct_extra_rungs[i], dir);
	return write_tag(c, dir, msg, msglen);
}

static int remove_all(const char *dir, bool count, struct pin_removal *out, char *msg, size_t msglen);

int pin_capture(struct capture *c, const char *dir, char *msg, size_t msglen)
{
	int err = pin_all(c, dir, msg, msglen);

	if (err) {
		struct pin_removal r;
		char ignored[256];
		/* the ring is this capture's: not read here, its records are the consumer's */
		remove_all(dir, false, &r, ignored, sizeof(ignored));
	}
	return err;
}

static int count_record(void *ctx, void *data, size_t size)
{
	struct pin_removal *r = ctx;
	(void)data;
	r->records++;
	r->bytes += size;
	return 0;
}

/* Reads (and so drops) what the pinned ring holds, counting it. */
static void count_ring(const char *dir, struct pin_removal *out)
{
	char path[PATH_MAX];
	struct ring_buffer *rb;
	int fd;

	pin_file(path, sizeof(path), dir, "ct_events");
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	rb = ring_buffer__new(fd, count_record, out, NULL);
	if (rb) {
		out->counted = ring_buffer__consume(rb) >= 0;
		ring_buffer__free(rb);
	}
	close(fd);
}

static int remove_all(const char *dir, bool count, struct pin_removal *out, char *msg, size_t msglen)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int err = 0;

	memset(out, 0, sizeof(*out));
	msg[0] = 0;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? -ENOENT : fail_msg(msg, msglen, errno, "open", "pin directory", dir);
	if (count)
		count_ring(dir, out);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0)) {
			pin_file(path, sizeof(path), dir, e->d_name);
			if (!err)
				err = fail_msg(msg, msglen, errno, "remove", "pin", path);
			continue;
		}
		out->removed++;
	}
	closedir(d);
	if (!err && rmdir(dir))
		err = fail_msg(msg, msglen, errno, "remove", "pin directory", dir);
	return err;
}

int pin_remove(const char *dir, struct pin_removal *out, char *msg, size_t msglen)
{
	return remove_all(dir, true, out, msg, msglen);
}
