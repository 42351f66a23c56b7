// SPDX-License-Identifier: Apache-2.0
/* The host side of capture: clocks the records are stamped with, filesystems the rungs need, libbpf's version. */
#define _GNU_SOURCE
#include "host.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <sys/mount.h>
#include <time.h>

#include <bpf/libbpf.h>

/* realtime - boottime in ns, sampled tightly (the smallest of a few brackets) */
napi_value js_clock_offset(napi_env env, napi_callback_info info)
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

napi_value js_boottime(napi_env env, napi_callback_info info)
{
	struct timespec ts;
	napi_value out;
	(void)info;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	CHECK(env, napi_create_bigint_uint64(env, (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec, &out));
	return out;
}

/* Mounts a pseudo filesystem at its usual place; 0 or errno, as a JS number. */
static napi_value mount_fs(napi_env env, const char *source, const char *target, const char *type)
{
	napi_value out;
	int err = mount(source, target, type, 0, NULL) ? errno : 0;

	CHECK(env, napi_create_int32(env, err, &out));
	return out;
}

/* mountTracefs(): for the tracepoint rung when tracefs is not mounted */
napi_value js_mount_tracefs(napi_env env, napi_callback_info info)
{
	(void)info;
	return mount_fs(env, "nodev", "/sys/kernel/tracing", "tracefs");
}

/* mountSecurityfs(): to read the active LSM list before trying the lsm rung */
napi_value js_mount_securityfs(napi_env env, napi_callback_info info)
{
	(void)info;
	return mount_fs(env, "securityfs", "/sys/kernel/security", "securityfs");
}

/* mountBpffs(): bpffs at /sys/fs/bpf, for capture.persist where nothing mounted it (systemd does) */
napi_value js_mount_bpffs(napi_env env, napi_callback_info info)
{
	(void)info;
	return mount_fs(env, "bpf", "/sys/fs/bpf", "bpf");
}

napi_value js_libbpf_version(napi_env env, napi_callback_info info)
{
	napi_value out;
	(void)info;
	CHECK(env, napi_create_string_utf8(env, libbpf_version_string(), NAPI_AUTO_LENGTH, &out));
	return out;
}

napi_value js_release_freed_memory(napi_env env, napi_callback_info info)
{
	napi_value out;
	int released = 0;
#ifdef __GLIBC__
	released = malloc_trim(0);
#endif
	CHECK(env, napi_get_boolean(env, released == 1, &out));
	return out;
}
