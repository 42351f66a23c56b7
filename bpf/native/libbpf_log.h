/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libbpf's messages, kept per step (the tail of a verifier log is the part
 * that says why), so a failure is reported with the log of the program that
 * failed, not of the one loaded before it. CONNTRAIL_LIBBPF_DEBUG=1 also
 * prints libbpf's debug messages to stderr.
 */
#ifndef CT_LIBBPF_LOG_H
#define CT_LIBBPF_LOG_H

void libbpf_log_init(void);
/* Forget what was logged so far: the next snapshot holds one step's messages. */
void libbpf_log_reset(void);
/* A malloc'd copy of the messages since the last reset (NULL when out of memory). */
char *libbpf_log_snapshot(void);

#endif
