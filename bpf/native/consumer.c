// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include "consumer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAX_FRAME (FRAME_HDR + ALIGN8(sizeof(struct ct_dns) + CT_DNS_MAX_CAP))
#define BATCH_FULL (-ENOBUFS)
/* While the ring stays empty the thread sleeps this long (the first record into an empty ring wakes it). */
#define IDLE_WAIT_MS 1000

int consumer_on_sample(void *ctx, void *data, size_t size)
{
	struct capture *c = ctx;
	size_t need = FRAME_HDR + ALIGN8(size);
	uint32_t frame[2] = { (uint32_t)size, 0 };

	if (need > c->cap - c->len) {
		/* cannot happen while records are <= MAX_FRAME; never lose silently */
		atomic_fetch_add(&c->st_oversize, 1);
		return 0;
	}
	memcpy(c->buf + c->len, frame, FRAME_HDR);
	memcpy(c->buf + c->len + FRAME_HDR, data, size);
	if (need > FRAME_HDR + size)
		memset(c->buf + c->len + FRAME_HDR + size, 0, need - FRAME_HDR - size);
	c->len += need;
	atomic_fetch_add(&c->st_records, 1);
	/* stop consuming (the record stays in the ring) once another might not fit */
	return c->cap - c->len < MAX_FRAME ? BATCH_FULL : 0;
}

static void send_batch(struct capture *c, const uint64_t counters[CT_CNT_MAX], bool end)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (!b)
		return;
	if (c->len) {
		b->data = malloc(c->len);
		if (!b->data) {
			free(b);
			return;
		}
		memcpy(b->data, c->buf, c->len);
		b->len = c->len;
	}
	memcpy(b->counters, counters, sizeof(b->counters));
	memcpy(c->last_counters, counters, sizeof(c->last_counters));
	b->end = end;
	atomic_fetch_add(&c->st_batches, 1);
	atomic_fetch_add(&c->st_bytes, c->len);
	c->len = 0;
	atomic_fetch_add(&c->inflight, 1);
	if (napi_call_threadsafe_function(c->tsfn, b, napi_tsfn_blocking) != napi_ok) {
		atomic_fetch_sub(&c->inflight, 1);
		free(b->data);
		free(b);
	}
}

static void flush(struct capture *c, bool force)
{
	uint64_t counters[CT_CNT_MAX];

	capture_read_counters(c, counters);
	if (!force && c->len == 0 && !memcmp(counters, c->last_counters, sizeof(counters)))
		return;
	send_batch(c, counters, false);
}

/*
 * Waits up to ms for stop() (the eventfd) or, with ring, for records: the
 * ring's epoll fd is level-triggered on pending data, so no wake-up is lost
 * between a drain that found nothing and this wait.
 */
static void wait_ms(struct capture *c, bool ring, int ms)
{
	struct epoll_event ev[2];

	epoll_wait(ring ? c->wait_fd : c->stop_wait_fd, ev, 2, ms);
}

/* Consume until the ring is empty, sending a batch whenever one fills. Returns the records taken. */
static uint64_t drain(struct capture *c, bool respect_backpressure)
{
	uint64_t before = atomic_load(&c->st_records);

	for (;;) {
		int err = ring_buffer__consume(c->rb);
		if (err != BATCH_FULL)
			break;
		flush(c, true);
		if (respect_backpressure && atomic_load(&c->inflight) >= c->max_inflight)
			break;
	}
	return atomic_load(&c->st_records) - before;
}

/*
 * Busy: drain, then wait poll_ms on stop() only, so that records pile up in
 * the ring (no wake-ups: it is not empty) and go to JS many at a time. Idle:
 * the drain found nothing, so wait for the first record (the BPF side wakes
 * the thread when a record goes into an empty ring) or IDLE_WAIT_MS, when the
 * counters are read again. No JS call when nothing changed.
 */
static void *consumer_main(void *arg)
{
	struct capture *c = arg;
	uint64_t counters[CT_CNT_MAX];

	while (!atomic_load(&c->stop_requested)) {
		if (atomic_load(&c->paused) || atomic_load(&c->inflight) >= c->max_inflight) {
			atomic_fetch_add(&c->st_stalls, 1);
			wait_ms(c, false, c->poll_ms);
			continue;
		}
		uint64_t taken = drain(c, true);
		flush(c, false);
		atomic_fetch_add(&c->st_wakeups, 1);
		if (taken)
			wait_ms(c, false, c->poll_ms);
		else
			wait_ms(c, true, IDLE_WAIT_MS);
	}
	/* stop(): detach first, then hand over everything still in the ring */
	capture_detach(c);
	drain(c, false);
	capture_read_counters(c, counters);
	send_batch(c, counters, true);
	napi_release_threadsafe_function(c->tsfn, napi_tsfn_release);
	return NULL;
}

static void free_batch_data(napi_env env, void *data, void *hint)
{
	(void)env;
	(void)hint;
	free(data);
}

/* Runs on the JS thread: one call per batch. */
static void call_js(napi_env env, napi_value js_cb, void *context, void *data)
{
	struct capture *c = context;
	struct batch *b = data;
	napi_value argv[3], undef, result;
	void *cdata;

	if (env == NULL || js_cb == NULL) { /* tearing down: the capture may be gone */
		free(b->data);
		free(b);
		return;
	}
	if (!b->len) {
		napi_get_null(env, &argv[0]);
	} else if (napi_create_external_buffer(env, b->len, b->data, free_batch_data, NULL, &argv[0]) == napi_ok) {
		b->data = NULL; /* the Buffer owns it now */
	} else {
		/* runtimes that allow no external buffers: one copy */
		void *copy;
		if (napi_create_buffer_copy(env, b->len, b->data, &copy, &argv[0]) != napi_ok)
			napi_get_null(env, &argv[0]);
	}
	if (napi_create_buffer(env, sizeof(b->counters), &cdata, &argv[1]) == napi_ok)
		memcpy(cdata, b->counters, sizeof(b->counters));
	else
		napi_get_null(env, &argv[1]);
	napi_get_boolean(env, b->end, &argv[2]);
	napi_get_undefined(env, &undef);
	atomic_fetch_sub(&c->inflight, 1);
	free(b->data);
	free(b);
	if (napi_call_function(env, undef, js_cb, 3, argv, &result) == napi_pending_exception) {
		napi_value exc;
		napi_get_and_clear_last_exception(env, &exc);
		napi_fatal_exception(env, exc);
	}
}

/* Two epoll sets: the stop eventfd alone, and the stop eventfd with the ring. */
static int make_wait_fds(struct capture *c)
{
	struct epoll_event ev = { .events = EPOLLIN };

	c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->wait_fd = epoll_create1(EPOLL_CLOEXEC);
	c->stop_wait_fd = epoll_create1(EPOLL_CLOEXEC);
	if (c->stop_fd < 0 || c->wait_fd < 0 || c->stop_wait_fd < 0)
		return errno;
	ev.data.fd = c->stop_fd;
	if (epoll_ctl(c->wait_fd, EPOLL_CTL_ADD, c->stop_fd, &ev) || epoll_ctl(c->stop_wait_fd, EPOLL_CTL_ADD, c->stop_fd, &ev))
		return errno;
	ev.data.fd = ring_buffer__epoll_fd(c->rb);
	if (epoll_ctl(c->wait_fd, EPOLL_CTL_ADD, ev.data.fd, &ev))
		return errno;
	return 0;
}

int consumer_start(napi_env env, struct capture *c, napi_value js_cb, bool deferred)
{
	napi_value name;
	int err;

	c->buf = malloc(c->cap);
	if (!c->buf)
		return ENOMEM;
	err = make_wait_fds(c);
	if (err)
		return err;
	if (napi_create_string_utf8(env, "conntrail-capture", NAPI_AUTO_LENGTH, &name) != napi_ok ||
	    napi_create_threadsafe_function(env, js_cb, NULL, name, 0, 1, NULL, NULL, c, call_js, &c->tsfn) != napi_ok)
		return EINVAL;
	c->started = true;
	if (deferred) {
		atomic_store(&c->paused, true);
		return 0;
	}
	err = consumer_run(c);
	if (err) {
		c->started = false;
		napi_release_threadsafe_function(c->tsfn, napi_tsfn_abort);
	}
	return err;
}

int consumer_run(struct capture *c)
{
	if (!c->started || c->thread_started)
		return 0;
	if (pthread_create(&c->thread, NULL, consumer_main, c))
		return EAGAIN;
	/* a name for top -H and ps -L; it would inherit "MainThread" */
	pthread_setname_np(c->thread, "ct-consumer");
	c->thread_started = true;
	return 0;
}

void consumer_request_stop(struct capture *c)
{
	uint64_t one = 1;

	atomic_store(&c->stop_requested, true);
	if (c->stop_fd >= 0 && write(c->stop_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: a wake-up is pending already */
	}
	/* a deferred thread that never ran still detaches, drains and sends the end batch */
	if (c->started && !c->thread_started && consumer_run(c)) {
		/* no thread: consumer_join() tears down without an end batch */
	}
}

void consumer_join(struct capture *c)
{
	if (c->started && !c->joined) {
		consumer_request_stop(c);
		if (c->thread_started)
			pthread_join(c->thread, NULL);
		else
			napi_release_threadsafe_function(c->tsfn, napi_tsfn_abort);
		c->joined = true;
	}
}
