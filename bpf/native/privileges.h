/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CT_PRIVILEGES_H
#define CT_PRIVILEGES_H

#include "napi_helpers.h"

/*
 * dropPrivileges(user: string, keep: number[]) -> {uid, gid}: from root to
 * USER (its uid, primary gid, no supplementary groups) keeping only the
 * capabilities numbered in keep, on the calling thread; every other thread
 * of the process leaves root with no capability at all (glibc applies the
 * uid change to every thread; only the caller has keep-caps set). Also clears
 * the caller's bounding and ambient sets to keep and sets no_new_privs.
 * Throws "dropPrivileges: <step>: <strerror>" naming the step that failed.
 */
napi_value js_drop_privileges(napi_env env, napi_callback_info info);

#endif
