/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capture.persist: a capture pinned in bpffs keeps capturing into its ring
 * while no conntrail runs (stop, SIGKILL, crash, upgrade). <dir>/ holds the
 * shared maps under their own names (ct_events, ct_counters, ...), one pin
 * per link (link_<rung>_<i>: link_cgroup_0, link_dns_0, link_cookies_0) and,
 * pinned last, the tag (struct ct_pin_tag, conntrail.h): a directory with no
 * tag is a half-pinned instance. Programs need no pin: a link holds its program.
 */
#ifndef CT_PIN_H
#define CT_PIN_H

#include <stddef.h>
#include <stdint.h>

#include "capture.h"

/* Reads <dir>/tag: 0; -ENOENT (no dir or no tag), -EPROTO (a tag map of another shape) or -errno. */
int pin_read_tag(const char *dir, struct ct_pin_tag *tag);
/* Before load: each shared map of obj reuses <dir>/<map name>. 0 or -errno, msg names the step. */
int pin_reuse_maps(struct bpf_object *obj, const char *dir, char *msg, size_t msglen);
/* Opens <dir>/link_<rung>_<i> for each of the rung's programs into c->links. 0 or -errno (-ENOENT: not pinned). */
int pin_open_links(struct capture *c, const struct ct_rung *rung, const char *dir, char *msg, size_t msglen);
/* Unpins a companion's link that is no longer wanted (DNS turned off). */
void pin_drop_links(const struct ct_rung *rung, const char *dir);
/*
 * After attach: pins what is not pinned yet (maps, links), then writes the tag.
 * On failure everything under dir is removed (nothing half-pinned stays): -errno, msg names the step.
 */
int pin_capture(struct capture *c, const char *dir, char *msg, size_t msglen);

struct pin_removal {
	int removed;        /* pins removed */
	bool counted;       /* the ring could be read */
	uint64_t records;   /* records left unread in the ring, dropped */
	uint64_t bytes;
};
/* Removes dir and every pin in it, counting what its ring still held. -ENOENT: nothing pinned. */
int pin_remove(const char *dir, struct pin_removal *out, char *msg, size_t msglen);
/* dir's filesystem is bpffs. */
bool pin_on_bpffs(const char *dir);

#endif
