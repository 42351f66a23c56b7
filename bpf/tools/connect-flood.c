// SPDX-License-Identifier: Apache-2.0
/*
 * connect-flood: the connect() generator of conntrail's capture tests and
 * benchmarks (test/capture, bpf/tools/bench-connect-rate.ts, bench/).
 *   connect-flood [-n count] [-d seconds] [-r rate] [-a address] [-p port] [-u] [-w seconds]
 * Each attempt: socket(), connect() to address:port (default 127.0.0.1:1,
 * a closed port: refused at once), close(). -u uses UDP (connect() sends
 * nothing). Stops after -n attempts or -d seconds, whichever comes first
 * (neither: one attempt). -r 0 (the default): flat out. -r rate: paced on an
 * absolute schedule, after t seconds rate*t attempts have been made (bursts
 * every 0.2 ms at most, so the rate holds even with a coarse sleep).
 * Prints "connects=N seconds=S rate=R pid=P" on stdout, then (-w) waits
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

static void sleep_seconds(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };
	nanosleep(&ts, NULL);
}

/* address:port into ss (IPv6 when the address has a colon); 0 when it does not parse */
static socklen_t parse_addr(const char *addr, int port, struct sockaddr_storage *ss)
{
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		return inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1 ? sizeof(*s6) : 0;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	return inet_pton(AF_INET, addr, &s4->sin_addr) == 1 ? sizeof(*s4) : 0;
}

int main(int argc, char **argv)
{
	long count = 0;
	double seconds = 0, rate = 0, wait = 0;
	const char *addr = "127.0.0.1";
	int port = 1, udp = 0, opt;
	struct sockaddr_storage ss = { 0 };
	socklen_t sslen;

	while ((opt = getopt(argc, argv, "n:d:r:a:p:uw:")) != -1) {
		switch (opt) {
		case 'n': count = atol(optarg); break;
		case 'd': seconds = atof(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'u': udp = 1; break;
		case 'w': wait = atof(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-n count] [-d seconds] [-r rate] [-a address] [-p port] [-u] [-w seconds]\n", argv[0]);
			return 2;
		}
	}
	if (count <= 0 && seconds <= 0)
		count = 1;
	if ((sslen = parse_addr(addr, port, &ss)) == 0)
		return fprintf(stderr, "bad address %s\n", addr), 2;

	double start = now(), end = seconds > 0 ? start + seconds : 0;
	long done = 0;
	for (;;) {
		if (count > 0 && done >= count)
			break;
		if (rate > 0) {
			double t = now();
			if (end > 0 && t >= end)
				break;
			if (done >= (long)((t - start) * rate)) {
				sleep_seconds(0.0002);
				continue;
			}
		} else if (end > 0 && (done & 255) == 0 && now() >= end) {
			break;
		}
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
	printf("connects=%ld seconds=%.3f rate=%.0f pid=%d\n", done, el, el > 0 ? done / el : 0, (int)getpid());
	fflush(stdout);
	if (wait > 0)
		sleep_seconds(wait);
	return 0;
}
