// SPDX-License-Identifier: Apache-2.0
/*
 * connect-flood: flat-out connect() loop for conntrail's tests and benchmark.
 *   connect-flood [-n count] [-d seconds] [-a address] [-p port] [-u] [-w seconds]
 * Each iteration: socket(), connect() to address:port (default 127.0.0.1:1,
 * a closed port: refused at once), close(). -u uses UDP (connect() sends
 * nothing). Prints "connects=N seconds=S rate=R" on stdout, then (-w) waits
 * before exiting, so that /proc/<pid> outlives the connects.
 */
#include <arpa/inet.h>
#include <errno.h>
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
	long count = 0;
	double seconds = 0;
	const char *addr = "127.0.0.1";
	int port = 1, udp = 0, opt;
	double wait = 0;
	struct sockaddr_storage ss = { 0 };
	socklen_t sslen;

	while ((opt = getopt(argc, argv, "n:d:a:p:uw:")) != -1) {
		switch (opt) {
		case 'n': count = atol(optarg); break;
		case 'd': seconds = atof(optarg); break;
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'u': udp = 1; break;
		case 'w': wait = atof(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-n count] [-d seconds] [-a address] [-p port] [-u] [-w seconds]\n", argv[0]);
			return 2;
		}
	}
	if (count <= 0 && seconds <= 0)
		count = 1;
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

	double start = now(), end = seconds > 0 ? start + seconds : 0;
	long done = 0;
	for (;;) {
		if (count > 0 && done >= count)
			break;
		if (end > 0 && (done & 255) == 0 && now() >= end)
			break;
		int fd = socket(ss.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
		if (fd < 0) {
			perror("socket");
			return 1;
		}
		(void)connect(fd, (struct sockaddr *)&ss, sslen);
		close(fd);
		done++;
	}
	double el = now() - start;
	printf("connects=%ld seconds=%.3f rate=%.0f\n", done, el, el > 0 ? done / el : 0);
	fflush(stdout);
	if (wait > 0) {
		struct timespec ts = { (time_t)wait, (long)((wait - (time_t)wait) * 1e9) };
		nanosleep(&ts, NULL);
	}
	return 0;
}
