/* SPDX-License-Identifier: Apache-2.0 */
/* xl's CPU lists ("0-3,^1", "all") to and from a cpu_set_t (include/capsule/cgroup.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "capsule/cgroup.h"

unsigned cpulist_host_cpus(void)
{
	/* Asked once: glibc reads /sys for it, which a confined thread may not open (the
	 * first call comes before the sandbox: domain_create). A host constant, not state. */
	static unsigned cached;
	unsigned n = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (!n) {
		int c = get_nprocs_conf();

		n = c < 1 ? 1 : c > CPU_SETSIZE ? CPU_SETSIZE : (unsigned)c;
		__atomic_store_n(&cached, n, __ATOMIC_RELAXED);
	}
	return n;
}

/* One CPU number at *p (digits only, no sign, no spaces): 0 or -1. */
static int number(const char **p, unsigned long *out)
{
	char *end;

	if (!isdigit((unsigned char)**p))
		return -1;
	errno = 0;
	*out = strtoul(*p, &end, 10);
	if (errno || end - *p > 9)
		return -1;
	*p = end;
	return 0;
}

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

int cpulist_parse(const char *s, unsigned nr_host, cpu_set_t *set, char *err, size_t errlen)
{
	const char *p = s;
	bool first = true;

	CPU_ZERO(set);
	if (!s || !*s)
		return FAIL("empty CPU list (give CPUs such as 0-3,^1, or all)");
	if (!strcmp(s, "all")) {
		for (unsigned c = 0; c < nr_host; c++)
			CPU_SET(c, set);
		return 0;
	}
	for (;;) {
		bool neg = *p == '^';
		unsigned long a, b;

		if (neg)
			p++;
		if (number(&p, &a))
			return FAIL("CPU list '%s': expected a CPU number at '%s'", s, p);
		b = a;
		if (*p == '-') {
			p++;
			if (number(&p, &b))
				return FAIL("CPU list '%s': expected a CPU number at '%s'", s, p);
			if (b < a)
				return FAIL("CPU list '%s': the range %lu-%lu runs backwards", s, a, b);
		}
		if (*p && *p != ',')
			return FAIL("CPU list '%s': unexpected '%c'", s, *p);
		if (b >= nr_host)
			return FAIL("CPU list '%s': CPU %lu does not exist (this host has CPUs 0-%u)",
				    s, b, nr_host - 1);
		if (neg && first) /* "^1" alone: every CPU but 1 */
			for (unsigned c = 0; c < nr_host; c++)
				CPU_SET(c, set);
		for (unsigned long c = a; c <= b; c++) {
			if (neg)
				CPU_CLR(c, set);
			else
				CPU_SET(c, set);
		}
		first = false;
		if (!*p)
			break;
		p++; /* the ',' */
	}
	if (!CPU_COUNT(set))
		return FAIL("CPU list '%s' leaves no CPU", s);
	return 0;
}

void cpulist_format(const cpu_set_t *set, unsigned nr_host, char *out, size_t len)
{
	size_t used = 0;
	unsigned c = 0;

	if (len)
		out[0] = 0;
	if (nr_host && (unsigned)CPU_COUNT(set) == nr_host) {
		bool all = true;

		for (unsigned i = 0; i < nr_host; i++)
			all &= CPU_ISSET(i, set) != 0;
		if (all) {
			snprintf(out, len, "all");
			return;
		}
	}
	while (c < CPU_SETSIZE) {
		unsigned e;
		int n;

		if (!CPU_ISSET(c, set)) {
			c++;
			continue;
		}
		for (e = c; e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set); e++)
			;
		n = e == c ? snprintf(out + used, len - used, "%s%u", used ? "," : "", c)
			   : snprintf(out + used, len - used, "%s%u-%u", used ? "," : "", c, e);
		if (n < 0 || (size_t)n >= len - used)
			return; /* cut short: what fits */
		used += (size_t)n;
		c = e + 1;
	}
}
