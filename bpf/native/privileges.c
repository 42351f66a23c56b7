// SPDX-License-Identifier: Apache-2.0
/* Leaving root after attach: see privileges.h. */
#define _GNU_SOURCE
#include "privileges.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_KEEP 16

/* The highest capability this kernel knows (CAP_LAST_CAP of the headers may be older or newer). */
static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
	int n = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = CAP_LAST_CAP;
		fclose(f);
	}
	return n;
}

static napi_value fail(napi_env env, const char *step, int err)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "dropPrivileges: %s: %s", step, strerror(err));
	napi_throw_error(env, NULL, msg);
	return NULL;
}

napi_value js_drop_privileges(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], out;
	char user[128];
	size_t ulen = 0;
	uint32_t nkeep = 0;
	int keep[MAX_KEEP];
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	struct passwd pw, *found = NULL;
	char pwbuf[4096];
	bool is_array = false;
	int err;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || napi_get_value_string_utf8(env, argv[0], user, sizeof(user), &ulen) != napi_ok || ulen == 0 ||
	    napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
		napi_throw_type_error(env, NULL, "dropPrivileges(user: string, keep: number[])");
		return NULL;
	}
	CHECK(env, napi_get_array_length(env, argv[1], &nkeep));
	if (nkeep > MAX_KEEP) {
		napi_throw_range_error(env, NULL, "dropPrivileges: too many capabilities to keep");
		return NULL;
	}
	for (uint32_t i = 0; i < nkeep; i++) {
		napi_value v;
		int32_t cap;
		CHECK(env, napi_get_element(env, argv[1], i, &v));
		if (napi_get_value_int32(env, v, &cap) != napi_ok || cap < 0 || cap > 63) {
			napi_throw_range_error(env, NULL, "dropPrivileges: a capability number is out of range");
			return NULL;
		}
		keep[i] = cap;
	}
	if (geteuid() != 0)
		return fail(env, "not running as root", EPERM);
	err = getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &found);
	if (!found)
		return fail(env, "look up the user", err ? err : ENOENT);

	memset(data, 0, sizeof(data));
	for (uint32_t i = 0; i < nkeep; i++) {
		data[keep[i] / 32].effective |= 1u << (keep[i] % 32);
		data[keep[i] / 32].permitted |= 1u << (keep[i] % 32);
	}
	/* the bounding set first: dropping from it needs CAP_SETPCAP, which root still has */
	for (int cap = 0, last = last_cap(); cap <= last; cap++) {
		if (data[cap / 32].permitted & (1u << (cap % 32)))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL)
			return fail(env, "drop from the bounding set (prctl PR_CAPBSET_DROP)", errno);
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		return fail(env, "keep capabilities across setuid (prctl PR_SET_KEEPCAPS)", errno);
	if (setgroups(0, NULL))
		return fail(env, "clear supplementary groups (setgroups)", errno);
	if (setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid))
		return fail(env, "change group (setresgid)", errno);
	if (setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid))
		return fail(env, "change user (setresuid)", errno);
	if (syscall(SYS_capset, &hdr, data))
		return fail(env, "set the kept capabilities (capset)", errno);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0))
		return fail(env, "prctl PR_SET_KEEPCAPS 0", errno);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return fail(env, "clear the ambient set (prctl PR_CAP_AMBIENT)", errno);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return fail(env, "set no_new_privs (prctl PR_SET_NO_NEW_PRIVS)", errno);

	CHECK(env, napi_create_object(env, &out));
	set_int(env, out, "uid", pw.pw_uid);
	set_int(env, out, "gid", pw.pw_gid);
	return out;
}
