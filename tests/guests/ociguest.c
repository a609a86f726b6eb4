/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest of the OCI runtime's tests (tests/oci/): its command line is capsule-oci's
 * mapping of a bundle, "[ENV=VALUE ...] -- ARGS" (docs/oci.md). It prints the words after
 * "--" and the environment, then runs ARGS: "ticks N" prints a numbered tick every 20 ms,
 * N times (0: until asked to power off), "exit N" powers off with code N (default 0).
 * With "capsule.ip=A.B.C.D/N" (a container's network) it echoes every UDP datagram sent to
 * its port 7 instead, until one says "quit".
 */
#include "kit.h"
#include "virtio.h"

static int serve_udp(const char *ip_s)
{
	static struct vnet n;
	static struct udp_msg m;
	uint32_t ip = ip_parse(ip_s), mac_ip = 0;
	uint8_t mac[6];

	if (vnet_open(&n, ip)) {
		printf("ociguest: no network device\n");
		return 3;
	}
	printf("ociguest: net %s up\n", ip_s);
	for (;;) {
		if (!net_poll_udp(&n, &m, time_ns() + 1000000000ull) || m.dst_port != 7)
			continue;
		if (m.src_ip != mac_ip) { /* the sender's MAC, asked once per sender */
			if (net_resolve(&n, m.src_ip, mac, time_ns() + 5000000000ull))
				continue;
			mac_ip = m.src_ip;
		}
		net_send_udp(&n, m.src_ip, mac, 7, m.src_port, m.data, m.len);
		if (m.len == 4 && !memcmp(m.data, "quit", 4))
			return 0;
	}
}

static const char *word_after(const char *s, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = s; *p; p++)
		if ((p == s || p[-1] == ' ') && !strncmp(p, w, n) && (p[n] == ' ' || !p[n]))
			return p[n] ? p + n + 1 : p + n;
	return NULL;
}

int main(void)
{
	const char *cmd = start_info->cmdline, *args = word_after(cmd, "--"), *v;
	unsigned long ticks = 1, code = 0;

	printf("ociguest: hello, %llu MiB, %u vCPU(s)\n",
	       (unsigned long long)(start_info->mem_bytes >> 20), nr_cpus());
	printf("ociguest: cmdline \"%s\"\n", cmd);
	if ((v = strstr(cmd, "capsule.ip=")) && (v == cmd || v[-1] == ' '))
		return serve_udp(v + 11);
	if (args && (v = word_after(args, "ticks")))
		ticks = strtoul(v, NULL, 10);
	if (args && (v = word_after(args, "exit")))
		code = strtoul(v, NULL, 10);
	for (unsigned long n = 0; !ticks || n < ticks; n++) {
		printf("ociguest: tick %lu\n", n);
		sleep_ns(20000000);
	}
	printf("ociguest: exit %lu\n", code);
	return (int)code;
}
