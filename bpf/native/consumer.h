/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The consumer thread of a capture: polls the ring buffer every poll_ms (the
 * BPF side wakes it early only when a quarter of the ring is pending), copies
 * records into a batch framed as
 *   [u32 record length][u32 0][record][pad to 8]
 * and hands each batch, with the summed per-CPU counters, to JS in one call
 * through a napi_threadsafe_function; the batch's memory becomes the JS
 * Buffer's (no second copy). At most max_inflight batches wait for JS; beyond
 * that the thread stops consuming and the kernel counts the records it cannot
 * reserve (backpressure, bounded memory).
 */
#ifndef CT_CONSUMER_H
#define CT_CONSUMER_H

#include "capture.h"

#define FRAME_HDR 8
#define ALIGN8(x) (((x) + 7) & ~(size_t)7)
#define MIN_BATCH_BYTES (64 * 1024)

/* ring_buffer__new's sample callback (ctx: the capture). */
int consumer_on_sample(void *ctx, void *data, size_t size);
/*
 * Sets up the consumer; js_cb(data: Buffer|null, counters: Buffer, end: boolean)
 * runs once per batch. With deferred, the thread is created only by
 * consumer_run() (resume, or stop): a thread takes its creator's credentials,
 * so one made after dropPrivileges() keeps exactly what the main thread kept.
 * 0 or a positive errno.
 */
int consumer_start(napi_env env, struct capture *c, napi_value js_cb, bool deferred);
/* Creates the thread if it is not running yet (on the JS thread). 0 or a positive errno. */
int consumer_run(struct capture *c);
/* Asks the thread to detach, drain and send the end batch. */
void consumer_request_stop(struct capture *c);
/* Waits for the thread (after the end batch, or to tear down). */
void consumer_join(struct capture *c);

#endif
