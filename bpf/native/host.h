/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CT_HOST_H
#define CT_HOST_H

#include "napi_helpers.h"

/* clockOffsetNs() -> bigint: CLOCK_REALTIME - CLOCK_BOOTTIME, ns */
napi_value js_clock_offset(napi_env env, napi_callback_info info);
/* boottimeNs() -> bigint: CLOCK_BOOTTIME now, ns */
napi_value js_boottime(napi_env env, napi_callback_info info);
/* mountTracefs() / mountSecurityfs() / mountBpffs() -> 0 or errno */
napi_value js_mount_tracefs(napi_env env, napi_callback_info info);
napi_value js_mount_securityfs(napi_env env, napi_callback_info info);
napi_value js_mount_bpffs(napi_env env, napi_callback_info info);
/*
 * releaseFreedMemory() -> boolean: glibc's malloc_trim(0), which hands the
 * pages malloc holds free (start-up's compiler zones, mostly) back to the
 * kernel; true when some were. False without glibc.
 */
napi_value js_release_freed_memory(napi_env env, napi_callback_info info);
/* libbpfVersion() -> "v1.1" */
napi_value js_libbpf_version(napi_env env, napi_callback_info info);

#endif
