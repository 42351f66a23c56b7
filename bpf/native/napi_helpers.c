// SPDX-License-Identifier: Apache-2.0
#include "napi_helpers.h"

#include <stdio.h>

void throw_last(napi_env env, const char *what)
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

bool get_prop(napi_env env, napi_value obj, const char *name, napi_value *out)
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

int64_t get_int(napi_env env, napi_value obj, const char *name, int64_t def)
{
	napi_value v;
	int64_t r;

	if (!get_prop(env, obj, name, &v) || napi_get_value_int64(env, v, &r) != napi_ok)
		return def;
	return r;
}

bool get_bool(napi_env env, napi_value obj, const char *name, bool def)
{
	napi_value v;
	bool r;

	if (!get_prop(env, obj, name, &v) || napi_get_value_bool(env, v, &r) != napi_ok)
		return def;
	return r;
}

bool get_string(napi_env env, napi_value obj, const char *name, char *buf, size_t size)
{
	napi_value v;
	size_t n;

	buf[0] = 0;
	if (!get_prop(env, obj, name, &v))
		return false;
	return napi_get_value_string_utf8(env, v, buf, size, &n) == napi_ok;
}

void set_int(napi_env env, napi_value obj, const char *name, int64_t v)
{
	napi_value x;
	napi_create_int64(env, v, &x);
	napi_set_named_property(env, obj, name, x);
}

void set_str(napi_env env, napi_value obj, const char *name, const char *s)
{
	napi_value x;
	napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &x);
	napi_set_named_property(env, obj, name, x);
}

void set_bool(napi_env env, napi_value obj, const char *name, bool b)
{
	napi_value x;
	napi_get_boolean(env, b, &x);
	napi_set_named_property(env, obj, name, x);
}

bool set_ints(napi_env env, napi_value parent, const char *name, const struct named_int *entries, size_t n)
{
	napi_value o;
	if (napi_create_object(env, &o) != napi_ok)
		return false;
	for (size_t i = 0; i < n; i++)
		set_int(env, o, entries[i].name, entries[i].value);
	return napi_set_named_property(env, parent, name, o) == napi_ok;
}
