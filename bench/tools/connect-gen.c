// SPDX-License-Identifier: Apache-2.0
/*
 * connect-gen: TCP connect() attempts on loopback at a fixed rate, for
 * conntrail's live-capture benchmark (bench/workers/live.ts).
 *   connect-gen -r rate -d seconds [-a address] [-p port]
 * rate 0: flat out (the same loop as bpf/tools/connect-flood.c). Otherwise
 * paced on an absolute schedule: after t seconds, rate*t connects have been
 * made (bursts every 1 ms at most, so the rate holds even with a coarse
 * sleep). Each attempt: socket(), connect() to address:port (default
 * 127.0.0.1:1, a closed port: refused at once), close().
 * Prints "connects=N seconds=S rate=R pid=P" on stdout.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double rate = 0, seconds = 1;
	const char *addr = "127.0.0.1";
	int port = 1, opt;
	struct sockaddr_storage ss = { 0 };
	socklen_t sslen;

	while ((opt = getopt(argc, argv, "r:d:a:p:")) != -1) {
		switch (opt) {
		case 'r': rate = atof(optarg); break;
		case 'd': seconds = atof(optarg); break;
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s -r rate -d seconds [-a address] [-p port]\n", argv[0]);
			return 2;
		}
	}
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			return fprintf(stderr, "bad address %s\n", addr), 2;
		sslen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			return fprintf(stderr, "bad address %s\n", addr), 2;
		sslen = sizeof(*s4);
	}

	double start = now(), end = start + seconds, t = start;
	long done = 0;
	for (;;) {
		if (rate <= 0) {
			if ((done & 255) == 0 && (t = now()) >= end)
				break;
		} else {
			t = now();
			if (t >= end)
				break;
			long due = (long)((t - start) * rate);
			if (done >= due) {
				struct timespec ts = { 0, 200000 }; /* 0.2 ms */
				nanosleep(&ts, NULL);
				continue;
			}
		}
		int fd = socket(ss.ss_family, SOCK_STREAM, 0);
		if (fd < 0) {
			perror("socket");
			return 1;
		}
		(void)connect(fd, (struct sockaddr *)&ss, sslen);
		close(fd);
		done++;
	}
	double el = now() - start;
	printf("connects=%ld seconds=%.3f rate=%.0f pid=%d\n", done, el, el > 0 ? done / el : 0, (int)getpid());
	fflush(stdout);
	return 0;
}
