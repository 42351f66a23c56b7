/* SPDX-License-Identifier: Apache-2.0 */
/* Small Node-API helpers: reading options, setting properties, errors that name the call. */
#ifndef CT_NAPI_HELPERS_H
#define CT_NAPI_HELPERS_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Throws "bpf-native-loader: <call> failed: <napi's message>" and returns NULL from the caller. */
#define CHECK(env, call)                                                       \
	do {                                                                   \
		if ((call) != napi_ok) {                                       \
			throw_last(env, #call);                                \
			return NULL;                                           \
		}                                                              \
	} while (0)

void throw_last(napi_env env, const char *what);

/* Options: a missing, undefined or null property reads as absent (def / false). */
bool get_prop(napi_env env, napi_value obj, const char *name, napi_value *out);
int64_t get_int(napi_env env, napi_value obj, const char *name, int64_t def);
bool get_bool(napi_env env, napi_value obj, const char *name, bool def);
bool get_string(napi_env env, napi_value obj, const char *name, char *buf, size_t size);

void set_int(napi_env env, napi_value obj, const char *name, int64_t v);
void set_str(napi_env env, napi_value obj, const char *name, const char *s);
void set_bool(napi_env env, napi_value obj, const char *name, bool b);

struct named_int {
	const char *name;
	int64_t value;
};

/* parent[name] = {entries[i].name: entries[i].value, ...} */
bool set_ints(napi_env env, napi_value parent, const char *name, const struct named_int *entries, size_t n);

#endif
