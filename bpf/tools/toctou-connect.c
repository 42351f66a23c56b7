// SPDX-License-Identifier: Apache-2.0
/*
 * toctou-connect: connect() while another thread rewrites the address. Two
 * listeners on 127.0.0.1; one sockaddr in memory whose port a second thread
 * flips between theirs as fast as it can; the main thread makes N blocking
 * connects with it, each on a new socket, and prints for each the port the
 * kernel really connected to (getpeername), one per line, in order. It starts
 * once the flipper runs, and goes on past N (up to 4 N: each listener queues
 * 4096 unaccepted connects) until the kernel has connected to both ports: on
 * a loaded machine the flipper can be off its core for all of N connects.
 *   toctou-connect [-n N]        (default 1000)
 * First line: "ports P1 P2". Exit 0.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in target;
static uint16_t ports[2];
static atomic_bool done;
static atomic_bool flipping;

static void *flipper(void *arg)
{
	volatile uint16_t *port = &target.sin_port;
	(void)arg;
	atomic_store(&flipping, true);
	while (!atomic_load_explicit(&done, memory_order_relaxed)) {
		*port = ports[0];
		*port = ports[1];
	}
	return NULL;
}

static uint16_t listener(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096) || getsockname(fd, (struct sockaddr *)&a, &len)) {
		perror("toctou-connect: listener");
		exit(1);
	}
	return a.sin_port; /* network order */
}

int main(int argc, char **argv)
{
	int n = 1000;
	bool seen[2] = { false, false };
	pthread_t t;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			n = atoi(argv[++i]);
	ports[0] = listener();
	ports[1] = listener();
	target.sin_family = AF_INET;
	target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	target.sin_port = ports[0];
	printf("ports %u %u\n", ntohs(ports[0]), ntohs(ports[1]));
	if (pthread_create(&t, NULL, flipper, NULL)) {
		perror("toctou-connect: pthread_create");
		return 1;
	}
	while (!atomic_load(&flipping))
		sched_yield();
	for (int i = 0; i < n || (!(seen[0] && seen[1]) && i < 4 * n); i++) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&target, sizeof(target)) || getpeername(fd, (struct sockaddr *)&peer, &len))
			printf("0\n");
		else {
			printf("%u\n", ntohs(peer.sin_port));
			seen[0] |= peer.sin_port == ports[0];
			seen[1] |= peer.sin_port == ports[1];
		}
		if (fd >= 0)
			close(fd);
	}
	atomic_store(&done, true);
	pthread_join(t, NULL);
	return 0;
}
