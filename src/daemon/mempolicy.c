/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The memory policy (docs/resources.md): every MP_TICK_MS, when the running domains'
 * memory exceeds the budget (--mem-limit, or the memory cgroup's limit), balloon targets
 * by ESX's shares-per-page rule with an idle memory tax (include/capsule/mempolicy.h),
 * applied through each VMM's balloon (PUT /api/v1/vm.balloon, the mem-set path). The
 * working set comes from two samples (docs/resources.md, "What the policy sees"):
 *  - the balloon's statistics: the guest's total less its free memory, both from one
 *    report (the total excludes the balloon, as Linux reports it), so a report older than
 *    the last target still adds up. Free memory is surely idle; used memory may be idle too;
 *  - the VMM's write working set (GET /api/v1/vm.wss: the dirty log over a random sample
 *    of pages, include/capsule/wss.h), as a fraction of the domain's memory. A page not
 *    written in a while is idle to it, even one the guest only reads.
 * The active memory is the smaller of the two (a page must be in use and written to count),
 * the balloon's alone while the sampler has no estimate yet (or is off), the dirty log's
 * alone while the guest sends no statistics; the idle fraction is 1 - active / held.
 * Each change of a target is an event ("mem-policy", with both samples and the idle
 * fraction) and the targets, samples and decisions are metrics.
 * The thread holds the daemon's lock only to read the table and record results, never
 * while it talks to a VMM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capsule/httpc.h"
#include "capsule/mempolicy.h"
#include "daemon.h"

#define MP_TICK_MS 500
#define MP_VMM_TIMEOUT_MS 300
#define MP_HYSTERESIS_MIB 2 /* smaller moves wait: a sampled working set jitters */
#define MP_STATS_WAIT 10 /* ticks a new domain is left alone until its guest reports */
#define MP_WSS_WAIT 120  /* and until its sampler has an estimate (a period and 3 more) */
#define MP_MAX 512 /* domains the policy weighs per tick (the rest keep their balloons) */
#define MP_WSS_PERIODS 3 /* sampling periods before the write working set counts */

struct mp_view {
	int64_t id;
	char sock[4200];
	uint64_t mem_mib, balloon_mib, free_mib, total_mib;
	bool has_balloon, has_stats, has_wss;
	bool wss_pending; /* sampling, without an estimate yet */
	double wss; /* the write working set's estimate, a fraction of the memory */
	unsigned waits; /* ticks without the guest's numbers so far */
};

/* memory_min and memory_shares of d's stored config, with the documented defaults. */
static void load_params(struct daemon *dm, struct ddom *d)
{
	char *text = db_domain_config(dm, d->id);
	json_t *cfg = text ? json_loads(text, 0, NULL) : NULL;
	json_t *min = json_object_get(cfg, "memory_min"), *sh = json_object_get(cfg, "memory_shares");

	d->mp_min_mib = json_is_integer(min) ? (uint64_t)json_integer_value(min) : d->mem_mib / 4;
	d->mp_shares = json_is_integer(sh) ? (uint64_t)json_integer_value(sh)
					   : (uint64_t)d->mem_mib * MP_SHARES_PER_MIB;
	if (d->mp_min_mib > d->mem_mib)
		d->mp_min_mib = d->mem_mib;
	if (!d->mp_shares)
		d->mp_shares = 1;
	d->mp_active_balloon_mib = d->mp_active_dirty_mib = -1;
	d->mp_known = true;
	json_decref(cfg);
	free(text);
}

static uint64_t stat_mib(const char *text, const char *key, bool *found)
{
	const char *p = strstr(text, key);

	*found = p != NULL;
	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* The VMM's balloon: its target and, when the guest sent them, free and total bytes. */
static void sample(struct mp_view *v)
{
	struct httpc_reply r = {0};
	char err[128];
	json_t *j;
	const char *text;
	bool found, ftot;

	v->has_balloon = v->has_stats = false;
	if (httpc_request(v->sock, "GET", "/api/v1/vm.balloon", NULL, NULL, 0, MP_VMM_TIMEOUT_MS,
			  &r, err, sizeof(err)) == 200 &&
	    (j = json_loads(r.body, 0, NULL))) {
		text = json_string_value(json_object_get(j, "stats"));
		if (text) {
			v->has_balloon = true;
			v->balloon_mib = stat_mib(text, "target_mib=", &found);
			v->free_mib = stat_mib(text, " free=", &found) >> 20;
			v->total_mib = stat_mib(text, " total=", &ftot) >> 20;
			/* A driver's first buffer may be empty (all zero): no numbers yet. */
			v->has_stats = found && ftot && v->total_mib > 0;
		}
		json_decref(j);
	}
	httpc_reply_free(&r);
	/* The write working set, once its averages have a few periods behind them. */
	v->has_wss = v->wss_pending = false;
	memset(&r, 0, sizeof(r));
	if (v->has_balloon &&
	    httpc_request(v->sock, "GET", "/api/v1/vm.wss", NULL, NULL, 0, MP_VMM_TIMEOUT_MS, &r,
			  err, sizeof(err)) == 200 &&
	    (j = json_loads(r.body, 0, NULL))) {
		json_t *f = json_object_get(j, "active_fraction");

		const char *state = json_string_value(json_object_get(j, "state"));
		json_int_t periods = json_integer_value(json_object_get(j, "periods"));

		v->has_wss = periods >= MP_WSS_PERIODS && json_is_number(f);
		v->wss_pending = !v->has_wss && state &&
				 (!strcmp(state, "starting") || !strcmp(state, "sampling"));
		v->wss = v->has_wss ? json_number_value(f) : 0;
		json_decref(j);
	}
	httpc_reply_free(&r);
}

/*
 * The budget: --mem-limit as given (auto: the host's MemAvailable and PSI), or a cgroup's limit less each running VMM's own memory
 * and 5% (its page cache, the VMMs' buffers), so guests at their targets fit under it;
 * plus what KSM saves.
 */
/* /proc/meminfo's KEY in MiB, 0 if absent. */
static uint64_t meminfo_mib(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kib = 0;
	char line[128];
	size_t n = strlen(key);

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			sscanf(line + n + 1, "%llu", &kib);
			break;
		}
	if (f)
		fclose(f);
	return kib >> 10;
}

/* /proc/pressure/memory's "some avg10": the % of the last 10 s some task stalled on memory. */
static double psi_some10(void)
{
	FILE *f = fopen("/proc/pressure/memory", "re");
	double v = 0;

	if (f) {
		if (fscanf(f, "some avg10=%lf", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static uint64_t budget_mib(struct daemon *dm, unsigned n, uint64_t held_mib)
{
	uint64_t keep = (uint64_t)n * MP_VMM_OVERHEAD_MIB + dm->mp_limit_mib / 20;
	uint64_t base = !dm->mem_cgroup ? dm->mp_limit_mib
			: dm->mp_limit_mib > keep ? dm->mp_limit_mib - keep : 0;

	/* --mem-limit auto: what the domains hold plus what the host still has available,
	 * less a tenth of the host kept free; a tenth more while tasks stall on memory. */
	if (dm->mp_auto) {
		uint64_t avail = meminfo_mib("MemAvailable"), reserve = dm->host_mem_mib / 10;

		dm->mp_psi10 = psi_some10();
		if (dm->mp_psi10 > MP_PSI_SHORT)
			reserve += dm->host_mem_mib / 10;
		avail = avail > reserve ? avail - reserve : 0;
		if (held_mib + avail < base)
			base = held_mib + avail;
	}

	/* Pages KSM folded are held once, not once per domain: what they save is room, as
	 * ESX counts the machine memory sharing frees. Only when capsuled runs KSM (then
	 * only its domains' memory is mergeable). */
	if (dm->ksm_tuned)
		base += ksm_counter("pages_sharing") * (uint64_t)sysconf(_SC_PAGESIZE) >> 20;
	return base;
}

int mempolicy_cgroup_open(struct daemon *dm, char *err, size_t errlen)
{
	char path[4200], buf[64] = "";
	unsigned long long limit = 0;
	FILE *f;

	if (!dm->mem_cgroup)
		return 0;
	snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", dm->mem_cgroup);
	if (!(f = fopen(path, "re"))) {
		snprintf(path, sizeof(path), "%s/memory.max", dm->mem_cgroup);
		f = fopen(path, "re");
	}
	if (!f || !fgets(buf, sizeof(buf), f) || sscanf(buf, "%llu", &limit) != 1 ||
	    limit == 0 || limit >= (1ull << 50)) {
		snprintf(err, errlen, "--mem-cgroup %s: not a memory cgroup with a limit (its "
			 "memory.limit_in_bytes or memory.max%s%s)", dm->mem_cgroup,
			 buf[0] ? " is " : " cannot be read", buf[0] ? strtok(buf, "\n") : "");
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	/* A process is in one v2 cgroup: the domain's own (CPU control, sched.c) or this. */
	if (strstr(path, "/memory.max") && dm->cg.version == 2) {
		snprintf(err, errlen, "--mem-cgroup %s is a v2 cgroup, and the domains' CPU "
			 "cgroups are v2 too (--cgroup): a VMM can be in only one; use a v1 "
			 "memory cgroup or --cgroup v1", dm->mem_cgroup);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", dm->mem_cgroup);
	if ((dm->mem_cgroup_procs = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "--mem-cgroup: cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (!dm->mp_limit_mib || dm->mp_limit_mib > limit >> 20)
		dm->mp_limit_mib = limit >> 20;
	return 0;
}

/* The active MiB of a domain holding held MiB, from its two samples (-1: none). */
static uint64_t active_of(uint64_t held, int64_t balloon, int64_t dirty)
{
	uint64_t a = held;

	if (balloon >= 0 && (uint64_t)balloon < a)
		a = (uint64_t)balloon;
	if (dirty >= 0 && (uint64_t)dirty < a)
		a = (uint64_t)dirty;
	return a;
}

static void tick(struct daemon *dm)
{
	static struct mp_view v[MP_MAX];
	static struct mp_dom in[MP_MAX];
	static int64_t act_bal[MP_MAX], act_dirty[MP_MAX];
	unsigned n = 0;
	uint64_t budget, held_total = 0;
	int64_t over;

	pthread_mutex_lock(&dm->lock);
	for (unsigned i = 0; i < dm->nr_doms && n < MP_MAX; i++) {
		struct ddom *d = dm->doms[i];

		if (d->state != DS_RUNNING && d->state != DS_PAUSED)
			continue;
		if (d->pidfd < 0)
			continue;
		if (!d->mp_known)
			load_params(dm, d);
		v[n].id = d->id;
		v[n].mem_mib = d->mem_mib;
		v[n].waits = d->mp_waits;
		dom_path(dm, d, "api.sock", v[n].sock, sizeof(v[n].sock));
		in[n] = (struct mp_dom){.max_mib = d->mem_mib, .min_mib = d->mp_min_mib,
					.shares = d->mp_shares};
		n++;
	}
	pthread_mutex_unlock(&dm->lock);
	for (unsigned i = 0; i < n; i++) {
		uint64_t held;

		sample(&v[i]);
		in[i].fixed = !v[i].has_balloon;
		held = v[i].balloon_mib < v[i].mem_mib ? v[i].mem_mib - v[i].balloon_mib : 0;
		held_total += held;
		/* Without either sample every page counts as active: nothing is taxed. A domain
		 * just started is left as it is until its guest reports (a tick or two), so that
		 * it is not taken for a busy one. */
		act_bal[i] = !v[i].has_stats ? -1
			     : v[i].free_mib < v[i].total_mib ? (int64_t)(v[i].total_mib - v[i].free_mib)
							      : 0;
		act_dirty[i] = v[i].has_wss ? (int64_t)(v[i].wss * (double)v[i].mem_mib + 0.5) : -1;
		in[i].active_mib = active_of(held, act_bal[i], act_dirty[i]);
		if ((!v[i].has_stats && v[i].waits < MP_STATS_WAIT) ||
		    (v[i].wss_pending && v[i].waits < MP_WSS_WAIT)) {
			in[i].fixed = true;
			in[i].max_mib = held;
		}
	}
	budget = budget_mib(dm, n, held_total);
	over = mp_targets(in, n, budget, dm->mp_tau, 1);
	for (unsigned i = 0; i < n; i++) {
		uint64_t want = v[i].mem_mib - in[i].target_mib;
		uint64_t diff = want > v[i].balloon_mib ? want - v[i].balloon_mib
							: v[i].balloon_mib - want;
		struct httpc_reply r = {0};
		char body[64], err[128];
		struct ddom *d;
		int st = 0;

		if (!v[i].has_stats || v[i].wss_pending) {
			pthread_mutex_lock(&dm->lock);
			if ((d = dom_find_id(dm, v[i].id)) && d->mp_waits < MP_WSS_WAIT)
				d->mp_waits++;
			pthread_mutex_unlock(&dm->lock);
		}
		if (in[i].fixed)
			continue;
		if (diff < MP_HYSTERESIS_MIB && want)
			want = v[i].balloon_mib;
		if (want != v[i].balloon_mib) {
			snprintf(body, sizeof(body), "{\"target_mib\": %llu}", (unsigned long long)want);
			st = httpc_request(v[i].sock, "PUT", "/api/v1/vm.balloon", NULL, body,
					   strlen(body), MP_VMM_TIMEOUT_MS, &r, err, sizeof(err));
			httpc_reply_free(&r);
		}
		pthread_mutex_lock(&dm->lock);
		if ((d = dom_find_id(dm, v[i].id))) {
			uint64_t held = v[i].mem_mib > v[i].balloon_mib ? v[i].mem_mib - v[i].balloon_mib
								       : 0;

			d->mp_active_mib = in[i].active_mib;
			d->mp_active_balloon_mib = act_bal[i];
			d->mp_active_dirty_mib = act_dirty[i];
			d->mp_idle = held ? 1.0 - (double)in[i].active_mib / (double)held : 0;
			d->mp_rho = mp_rho(in[i].shares, in[i].target_mib, in[i].active_mib,
					   dm->mp_tau);
			if (want != v[i].balloon_mib && st >= 200 && st < 300) {
				d->mp_balloon_mib = want;
				d->mp_decisions++;
				dom_event(dm, d, "mem-policy",
					  "{\"balloon_mib\": %llu, \"from_mib\": %llu, \"holds_mib\": "
					  "%llu, \"active_mib\": %llu, \"active_balloon_mib\": %lld, "
					  "\"active_dirty_mib\": %lld, \"idle_fraction\": %.4f, "
					  "\"shares\": %llu, \"rho\": %.6g, \"budget_mib\": %llu}",
					  (unsigned long long)want, (unsigned long long)v[i].balloon_mib,
					  (unsigned long long)in[i].target_mib,
					  (unsigned long long)in[i].active_mib, (long long)act_bal[i],
					  (long long)act_dirty[i], d->mp_idle,
					  (unsigned long long)in[i].shares, d->mp_rho,
					  (unsigned long long)budget);
			} else {
				d->mp_balloon_mib = v[i].balloon_mib;
			}
		}
		pthread_mutex_unlock(&dm->lock);
	}
	pthread_mutex_lock(&dm->lock);
	dm->mp_over_mib = over > 0 ? (uint64_t)over : 0;
	dm->mp_budget_mib = budget;
	pthread_mutex_unlock(&dm->lock);
}

static void *policy_thread(void *arg)
{
	struct daemon *dm = arg;
	struct timespec until;

	pthread_mutex_lock(&dm->mp_lock);
	while (!dm->mp_stop) {
		pthread_mutex_unlock(&dm->mp_lock);
		tick(dm);
		pthread_mutex_lock(&dm->mp_lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += MP_TICK_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!dm->mp_stop &&
		       pthread_cond_timedwait(&dm->mp_cond, &dm->mp_lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&dm->mp_lock);
	return NULL;
}

int mempolicy_start(struct daemon *dm)
{
	if (!dm->mp_limit_mib)
		return 0;
	pthread_mutex_init(&dm->mp_lock, NULL);
	pthread_cond_init(&dm->mp_cond, NULL);
	dm->mp_running = pthread_create(&dm->mp_thread, NULL, policy_thread, dm) == 0;
	return dm->mp_running ? 0 : -1;
}

void mempolicy_stop(struct daemon *dm)
{
	if (!dm->mp_running)
		return;
	pthread_mutex_lock(&dm->mp_lock);
	dm->mp_stop = true;
	pthread_cond_signal(&dm->mp_cond);
	pthread_mutex_unlock(&dm->mp_lock);
	pthread_join(dm->mp_thread, NULL);
	dm->mp_running = false;
}

json_t *mempolicy_json(const struct daemon *dm)
{
	if (!dm->mp_limit_mib)
		return json_pack("{s:b}", "enabled", 0);
	return json_pack("{s:b, s:s, s:I, s:f, s:I, s:I, s:f}", "enabled", 1, "mode",
			 dm->mp_auto ? "auto" : dm->mem_cgroup ? "cgroup" : "limit", "limit_mib",
			 (json_int_t)dm->mp_limit_mib, "tau", dm->mp_tau, "budget_mib",
			 (json_int_t)dm->mp_budget_mib, "over_mib", (json_int_t)dm->mp_over_mib,
			 "psi_some_avg10", dm->mp_psi10);
}

void mempolicy_dom_json(const struct ddom *d, json_t *j)
{
	if (!d->mp_known)
		return;
	json_object_set_new(j, "mem_policy",
			    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:f}", "min_mib",
				      (json_int_t)d->mp_min_mib, "shares", (json_int_t)d->mp_shares,
				      "balloon_mib", (json_int_t)d->mp_balloon_mib, "active_mib",
				      (json_int_t)d->mp_active_mib, "active_balloon_mib",
				      (json_int_t)d->mp_active_balloon_mib, "active_dirty_mib",
				      (json_int_t)d->mp_active_dirty_mib, "idle_fraction", d->mp_idle,
				      "decisions", (json_int_t)d->mp_decisions, "rho", d->mp_rho));
}

void mempolicy_metrics(const struct daemon *dm, FILE *f)
{
	if (!dm->mp_limit_mib)
		return;
	fprintf(f, "# HELP capsule_mem_policy_budget_bytes What the policy fits the domains in.\n"
		   "# TYPE capsule_mem_policy_budget_bytes gauge\ncapsule_mem_policy_budget_bytes "
		   "%llu\n# HELP capsule_mem_policy_over_bytes Still over the budget with every "
		   "domain at its minimum.\n# TYPE capsule_mem_policy_over_bytes gauge\n"
		   "capsule_mem_policy_over_bytes %llu\n"
		   "# HELP capsule_domain_policy_balloon_bytes The balloon the policy set.\n"
		   "# TYPE capsule_domain_policy_balloon_bytes gauge\n",
		(unsigned long long)dm->mp_budget_mib << 20, (unsigned long long)dm->mp_over_mib << 20);
	for (unsigned i = 0; i < dm->nr_doms; i++)
		if (dm->doms[i]->mp_known && dm->doms[i]->pidfd >= 0)
			fprintf(f, "capsule_domain_policy_balloon_bytes{domain=\"%s\"} %llu\n",
				dm->doms[i]->name,
				(unsigned long long)dm->doms[i]->mp_balloon_mib << 20);
	fprintf(f, "# HELP capsule_domain_policy_active_bytes The active memory the policy "
		   "weighs (source policy), and its two samples: in use by the balloon's "
		   "statistics, written by the dirty log's sample.\n"
		   "# TYPE capsule_domain_policy_active_bytes gauge\n");
	for (unsigned i = 0; i < dm->nr_doms; i++) {
		const struct ddom *d = dm->doms[i];

		if (!d->mp_known || d->pidfd < 0)
			continue;
		fprintf(f, "capsule_domain_policy_active_bytes{domain=\"%s\",source=\"policy\"} "
			"%llu\n", d->name, (unsigned long long)d->mp_active_mib << 20);
		if (d->mp_active_balloon_mib >= 0)
			fprintf(f, "capsule_domain_policy_active_bytes{domain=\"%s\",source="
				"\"balloon\"} %llu\n", d->name,
				(unsigned long long)d->mp_active_balloon_mib << 20);
		if (d->mp_active_dirty_mib >= 0)
			fprintf(f, "capsule_domain_policy_active_bytes{domain=\"%s\",source="
				"\"dirty\"} %llu\n", d->name,
				(unsigned long long)d->mp_active_dirty_mib << 20);
	}
	fprintf(f, "# HELP capsule_domain_policy_idle_fraction 1 - active / held, as the "
		   "policy last weighed it.\n# TYPE capsule_domain_policy_idle_fraction gauge\n");
	for (unsigned i = 0; i < dm->nr_doms; i++)
		if (dm->doms[i]->mp_known && dm->doms[i]->pidfd >= 0)
			fprintf(f, "capsule_domain_policy_idle_fraction{domain=\"%s\"} %.4f\n",
				dm->doms[i]->name, dm->doms[i]->mp_idle);
	fprintf(f, "# HELP capsule_domain_policy_decisions_total Balloon targets the policy "
		   "set (each one a mem-policy event).\n"
		   "# TYPE capsule_domain_policy_decisions_total counter\n");
	for (unsigned i = 0; i < dm->nr_doms; i++)
		if (dm->doms[i]->mp_known && dm->doms[i]->pidfd >= 0)
			fprintf(f, "capsule_domain_policy_decisions_total{domain=\"%s\"} %llu\n",
				dm->doms[i]->name, (unsigned long long)dm->doms[i]->mp_decisions);
}
