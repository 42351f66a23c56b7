/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CT_LAYOUT_H
#define CT_LAYOUT_H

#include "napi_helpers.h"

/* layout() -> offsets, sizes and constants of the records (bpf/lib RecordLayout) */
napi_value js_layout(napi_env env, napi_callback_info info);
/* sampleRecords() -> a framed batch: an IPv4 and an IPv6 connect, a DNS reply (values mirrored in test/unit/decode.test.ts) */
napi_value js_sample_records(napi_env env, napi_callback_info info);

#endif
