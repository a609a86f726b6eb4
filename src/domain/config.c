/* SPDX-License-Identifier: Apache-2.0 */
/* struct domain_config: defaults, and the one place a configuration is checked. */
#include <stdio.h>
#include <string.h>

#include "capsule/cgroup.h"
#include "capsule/domain.h"

void domain_config_init(struct domain_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "domain");
	c->cmdline = "";
	c->mem_mib = 64;
	c->vcpus = 1;
	c->cpu_weight = CG_WEIGHT_DEFAULT;
	c->on_poweroff = ACTION_DESTROY;
	c->on_reboot = ACTION_RESTART;
	c->on_crash = ACTION_DESTROY;
	c->console = stdout;
	c->console_in = 0;
	c->wss_period_ms = WSS_PERIOD_MS_DEFAULT;
	c->wss_sample = WSS_SAMPLE_DEFAULT;
}

void domain_config_copy(struct domain_config *dst, const struct domain_config *src)
{
	const char **fields[] = {&dst->image, &dst->initrd, &dst->cmdline};

	*dst = *src;
	for (unsigned i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (*fields[i] >= src->strings && *fields[i] < src->strings + sizeof(src->strings))
			*fields[i] = dst->strings + (*fields[i] - src->strings);
}

static const char *const action_names[] = {
	[ACTION_DESTROY] = "destroy", [ACTION_RESTART] = "restart", [ACTION_PRESERVE] = "preserve",
};

int domain_action_parse(const char *name, enum domain_action *a)
{
	for (unsigned i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++)
		if (!strcmp(name, action_names[i])) {
			*a = (enum domain_action)i;
			return 0;
		}
	return -1;
}

const char *domain_action_name(enum domain_action a)
{
	return a <= ACTION_PRESERVE ? action_names[a] : "?";
}

const char *domain_state_name(enum domain_state s)
{
	static const char *const names[] = {
		[DOMAIN_CREATED] = "created",           [DOMAIN_RUNNING] = "running",
		[DOMAIN_PAUSED] = "paused",             [DOMAIN_SHUTTING_DOWN] = "shutting-down",
		[DOMAIN_SHUTOFF] = "shutoff",           [DOMAIN_CRASHED] = "crashed",
	};

	return s <= DOMAIN_CRASHED ? names[s] : "?";
}

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -1)

int domain_config_validate(const struct domain_config *c, enum domain_kind kind, char *err,
			   size_t errlen)
{
	uint64_t host_mib = host_ram_bytes() >> 20;

	if (!c->image || !*c->image)
		return FAIL("no image given");
	if (!c->name[0] || strspn(c->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					   "0123456789._-") != strlen(c->name))
		return FAIL("name '%s' must be letters, digits, '.', '_' or '-'", c->name);
	if (c->vcpus < 1 || c->vcpus > CAP_MAX_VCPUS)
		return FAIL("vcpus must be from 1 to %u, not %u", CAP_MAX_VCPUS, c->vcpus);
	if (c->mem_mib > host_mib)
		return FAIL("memory of %llu MiB is more than this host has (%llu MiB)",
			    (unsigned long long)c->mem_mib, (unsigned long long)host_mib);
	if (kind == DOMAIN_PV && (c->mem_mib < (PV_MIN_MEM >> 20) || c->mem_mib > (PV_MAX_MEM >> 20)))
		return FAIL("a PV domain needs %llu MiB to %llu MiB of memory",
			    (unsigned long long)(PV_MIN_MEM >> 20),
			    (unsigned long long)(PV_MAX_MEM >> 20));
	if (kind == DOMAIN_HVM && c->mem_mib < 16)
		return FAIL("%s is a kernel for an HVM domain, which needs at least --mem 16",
			    c->image);
	if (c->mem_min_mib > c->mem_mib)
		return FAIL("memory_min of %llu MiB is more than the domain's memory (%llu MiB)",
			    (unsigned long long)c->mem_min_mib, (unsigned long long)c->mem_mib);
	if (c->wss_period_ms < WSS_PERIOD_MS_MIN || c->wss_period_ms > WSS_PERIOD_MS_MAX)
		return FAIL("wss_period_ms must be from %u to %u ms, not %u", WSS_PERIOD_MS_MIN,
			    WSS_PERIOD_MS_MAX, c->wss_period_ms);
	if (c->wss_sample > WSS_SAMPLE_MAX)
		return FAIL("wss_sample_pages must be from 0 (off) to %u, not %u", WSS_SAMPLE_MAX,
			    c->wss_sample);
	if (c->cpu_weight < CG_WEIGHT_MIN || c->cpu_weight > CG_WEIGHT_MAX)
		return FAIL("cpu_weight must be from %d to %d, not %u", CG_WEIGHT_MIN, CG_WEIGHT_MAX,
			    c->cpu_weight);
	if (c->cap > 100 * c->vcpus)
		return FAIL("cap %u is more than the domain's %u vCPU%s can use (at most %u)", c->cap,
			    c->vcpus, c->vcpus > 1 ? "s" : "", 100 * c->vcpus);
	if (c->cpus[0]) {
		cpu_set_t set;
		char e[200];

		if (cpulist_parse(c->cpus, cpulist_host_cpus(), &set, e, sizeof(e)))
			return FAIL("cpus: %s", e);
	}
	if (strlen(c->cmdline) >= CAP_CMDLINE_MAX)
		return FAIL("--cmdline is longer than %u bytes", CAP_CMDLINE_MAX - 1);
	if (kind == DOMAIN_PV && c->initrd)
		return FAIL("an initrd is for kernels; %s is a PV image", c->image);
	if (kind == DOMAIN_PV && c->no_pvh)
		return FAIL("--no-pvh is for kernels; %s is a PV image", c->image);
	for (unsigned i = 0; i < c->nr_devices; i++) {
		const struct device_kind *k = c->devices[i].kind;
		unsigned n = 0;

		for (unsigned j = 0; j < c->nr_devices; j++)
			n += c->devices[j].kind == k;
		if (n > k->max)
			return FAIL("at most %u %s device%s", k->max, k->name, k->max > 1 ? "s" : "");
	}
	if (c->nr_devices > (kind == DOMAIN_HVM ? HVM_MAX_DEVICES : CAP_MAX_DEVICES))
		return FAIL("at most %u devices in a%s domain",
			    kind == DOMAIN_HVM ? HVM_MAX_DEVICES : CAP_MAX_DEVICES,
			    kind == DOMAIN_HVM ? "n HVM" : " PV");
	return 0;
}
