// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include "libbpf_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[16384];
static size_t log_len;
static bool log_debug;

static int log_cb(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *line = NULL;
	size_t n;

	if (level == LIBBPF_DEBUG && !log_debug)
		return 0;
	if (vasprintf(&line, fmt, ap) < 0 || !line)
		return 0;
	if (log_debug)
		fputs(line, stderr);
	n = strlen(line);
	pthread_mutex_lock(&log_mu);
	if (n >= sizeof(log_buf)) { /* a verifier log: keep its tail */
		memcpy(log_buf, line + n - (sizeof(log_buf) - 1), sizeof(log_buf) - 1);
		log_len = sizeof(log_buf) - 1;
	} else {
		if (log_len + n >= sizeof(log_buf)) {
			size_t keep = sizeof(log_buf) - 1 - n;
			memmove(log_buf, log_buf + log_len - keep, keep);
			log_len = keep;
		}
		memcpy(log_buf + log_len, line, n);
		log_len += n;
	}
	log_buf[log_len] = 0;
	pthread_mutex_unlock(&log_mu);
	free(line);
	return 0;
}

void libbpf_log_init(void)
{
	const char *dbg = getenv("CONNTRAIL_LIBBPF_DEBUG");

	log_debug = dbg && *dbg && strcmp(dbg, "0");
	libbpf_set_print(log_cb);
}

void libbpf_log_reset(void)
{
	pthread_mutex_lock(&log_mu);
	log_len = 0;
	log_buf[0] = 0;
	pthread_mutex_unlock(&log_mu);
}

char *libbpf_log_snapshot(void)
{
	char *s;

	pthread_mutex_lock(&log_mu);
	s = strdup(log_buf);
	pthread_mutex_unlock(&log_mu);
	return s;
}
