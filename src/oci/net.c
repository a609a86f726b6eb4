/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container's network for its domain, the way sandboxed runtimes do it (Kata's
 * "tcfilter" model): in the network namespace the engine prepared (config.json names it
 * by path: CNI, ctr --with-ns), a TAP beside the interface the engine gave the container,
 * and a traffic-control mirred redirect each way between the two, so every frame that
 * reaches the container's veth goes to the domain and back. The guest takes the veth's MAC
 * (the engine's neighbours already know it) and its address, which the command line tells
 * it (capsule.ip=A.B.C.D/N capsule.gw=G, docs/oci.md).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capsule/oci.h"

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* The first interface with an IPv4 address that is not the loopback: what the engine gave. */
static int find_iface(struct oci_net *n, char *err, size_t errlen)
{
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa))
		return FAIL("cannot list the network namespace's interfaces: %s", strerror(errno));
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !(i->ifa_flags & IFF_LOOPBACK)
		    && i->ifa_netmask) {
			uint32_t mask = ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);

			snprintf(n->ifname, sizeof(n->ifname), "%s", i->ifa_name);
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, n->ip,
				  sizeof(n->ip));
			n->prefix = (unsigned)__builtin_popcount(mask);
			break;
		}
	for (i = ifa; n->ifname[0] && i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_PACKET &&
		    !strcmp(i->ifa_name, n->ifname)) {
			const unsigned char *m = ((struct sockaddr_ll *)i->ifa_addr)->sll_addr;

			snprintf(n->mac, sizeof(n->mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1],
				 m[2], m[3], m[4], m[5]);
		}
	freeifaddrs(ifa);
	if (!n->ifname[0] || !n->mac[0]) {
		snprintf(err, errlen, "the network namespace has no interface with an IPv4 address");
		return -ENODEV;
	}
	return 0;
}

/* The default route's gateway, from the namespace's routing table ("" if none). */
static void find_gateway(struct oci_net *n)
{
	char line[256], ifn[IFNAMSIZ + 1];
	unsigned dest, gw, flags;
	FILE *f = fopen("/proc/self/net/route", "re");

	n->gw[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%16s %x %x %x", ifn, &dest, &gw, &flags) == 4 && !dest && gw) {
			struct in_addr a = {.s_addr = gw};

			inet_ntop(AF_INET, &a, n->gw, sizeof(n->gw));
			break;
		}
	fclose(f);
}

/* A persistent TAP with the VMM's flags (src/virtio/net.c), up. */
static int make_tap(const char *name, char *err, size_t errlen)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), s;

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) || ioctl(fd, TUNSETPERSIST, 1)) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return FAIL("cannot make the TAP %s: %s", name, strerror(e));
	}
	close(fd);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr))) {
		int e = errno;

		if (s >= 0)
			close(s);
		return FAIL("cannot bring the TAP %s up: %s", name, strerror(e));
	}
	close(s);
	return 0;
}

/* tc, from iproute2: 0 if it exited 0. */
static int tc(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, 1);
		execvp("tc", argv);
		_exit(127);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       !WEXITSTATUS(status) ? 0 : -1;
}

/* Every frame that comes in on from goes out of to. */
static int redirect(const char *from, const char *to, char *err, size_t errlen)
{
	char *qdisc[] = {"tc", "qdisc", "add", "dev", (char *)from, "ingress", NULL};
	char *filter[] = {"tc", "filter", "add", "dev", (char *)from, "parent", "ffff:",
			  "protocol", "all", "u32", "match", "u8", "0", "0", "action", "mirred",
			  "egress", "redirect", "dev", (char *)to, NULL};

	if (tc(qdisc) || tc(filter))
		return FAIL("tc cannot redirect %s to %s (is iproute2 installed?)", from, to);
	return 0;
}

int oci_net_setup(const char *netns, struct oci_net *n, char *err, size_t errlen)
{
	int fd = open(netns, O_RDONLY | O_CLOEXEC), r;

	memset(n, 0, sizeof(*n));
	if (fd < 0)
		return FAIL("network namespace %s: %s", netns, strerror(errno));
	/* This process from now on: the VMM it forks opens the TAP in here too. */
	if (setns(fd, CLONE_NEWNET)) {
		close(fd);
		return FAIL("cannot enter the network namespace %s: %s", netns, strerror(errno));
	}
	close(fd);
	if ((r = find_iface(n, err, errlen)))
		return r;
	find_gateway(n);
	snprintf(n->tap, sizeof(n->tap), "%s", OCI_TAP_NAME);
	if (make_tap(n->tap, err, errlen) || redirect(n->ifname, n->tap, err, errlen) ||
	    redirect(n->tap, n->ifname, err, errlen))
		return -1;
	oci_log("info", "network: %s (%s, %s/%u, gateway %s) <-> %s", n->ifname, n->mac, n->ip,
		n->prefix, n->gw[0] ? n->gw : "none", n->tap);
	return 0;
}
