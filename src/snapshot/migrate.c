/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pre-copy live migration, the sending side (include/capsule/migrate.h, docs/migration.md;
 * Clark et al., NSDI 2005): round 0 sends every page that holds data while the domain
 * runs with the dirty log on; each later round sends the pages written during the one
 * before, until the pages left could be sent within the downtime limit at the rate the
 * last round reached, or the round limit is hit. Then the domain is paused, the last dirty
 * pages and every page the VMM marked during the migration go (a VMM write can land after
 * the fetch that reported its page; paused, none is pending), then the state. Runs on the
 * API thread, writing only to the socket its client passed.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "capsule/devices.h"
#include "capsule/dirty.h"
#include "capsule/log.h"
#include "capsule/migrate.h"
#include "diff.h"

#define PAGE 4096u

struct mig {
	struct domain *d;
	struct guest_mem *m;
	struct snap_writer w;
	uint64_t nr_pages, words;
	uint64_t *set, *guest, *vmm, *vmm_all, *fetched_all;
	uint8_t *batch; /* struct mig_pages and MIG_MAX_BATCH pages */
	bool disks_released;
	bool gone;    /* the go was written: the domain is the destination's */
	uint64_t go_ns; /* when */
	bool postcopy;
	struct migrate_report *rep;
	migrate_progress_fn *progress;
	void *opaque;
};

static void say(struct mig *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct mig *g, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (g->progress)
		g->progress(g->opaque, line);
}

static bool page_zero(const uint8_t *p)
{
	return !p[0] && !memcmp(p, p + 1, PAGE - 1);
}

/* Pages [pfn, pfn + n) as one record (n <= MIG_MAX_BATCH). */
static void send_batch(struct mig *g, uint64_t pfn, uint64_t n)
{
	struct mig_pages h = {pfn, n};

	memcpy(g->batch, &h, sizeof(h));
	memcpy(g->batch + sizeof(h), g->m->host + pfn * PAGE, n * PAGE);
	snap_write(&g->w, SNAP_MIG_PAGES, 0, g->batch, sizeof(h) + n * PAGE);
	g->rep->pages += n;
	g->rep->bytes += sizeof(h) + n * PAGE + 16;
}

/* Every page set in bits, in runs; skip_zero: a page of zeros is not sent (round 0: the
 * destination's memory starts zero). */
static int send_set(struct mig *g, const uint64_t *bits, bool skip_zero)
{
	uint64_t pfn = 0;

	while (pfn < g->nr_pages && !g->w.error) {
		uint64_t n = 0;

		/*
		 * A guest that powers off or reboots while the rounds run ends its boot: stop.
		 * Its teardown waits for the hold migrate_send took (domain_hold), so its memory
		 * is still there, but the migration of an ended boot is over.
		 */
		if (vm_ended(g->d->vm)) {
			g->w.error = -ECANCELED;
			return g->w.error;
		}

		vm_throttle_tick(g->d->vm);
		if (!bits[pfn / 64]) {
			pfn = (pfn | 63) + 1;
			continue;
		}
		while (pfn + n < g->nr_pages && n < MIG_MAX_BATCH &&
		       (bits[(pfn + n) / 64] >> ((pfn + n) % 64) & 1) &&
		       !(skip_zero && page_zero(g->m->host + (pfn + n) * PAGE)))
			n++;
		if (n)
			send_batch(g, pfn, n);
		pfn += n ? n : 1;
	}
	return g->w.error;
}

/* Round 0: every page with data; a memfd says where that is (SEEK_DATA). */
static void all_pages(struct mig *g)
{
	const struct guest_mem *m = g->m;

	memset(g->set, 0, g->words * 8);
	for (uint64_t off = 0; off < m->size;) {
		off_t data = m->private_file ? (off_t)off : lseek(m->fd, (off_t)off, SEEK_DATA);
		off_t hole;

		if (data < 0)
			break;
		hole = m->private_file ? (off_t)m->size : lseek(m->fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > m->size)
			hole = (off_t)m->size;
		for (uint64_t p = (uint64_t)data / PAGE; p < ((uint64_t)hole + PAGE - 1) / PAGE; p++)
			g->set[p / 64] |= 1ull << (p % 64);
		off = (uint64_t)hole;
	}
	/* An HVM domain's PCI hole is not memory (a private mapping was marked whole above):
	 * never read, never sent; it stays a hole at the destination. */
	for (uint64_t p = m->hole_start / PAGE; m->hole_end && p < m->hole_end / PAGE; p++)
		g->set[p / 64] &= ~(1ull << (p % 64));
}

/* The pages dirtied since the last fetch added to set (what is still to send); the VMM's
 * also into vmm_all. */
static int fetch(struct mig *g)
{
	int rc = vm_dirty_fetch_split(g->d->vm, g->guest, g->vmm);

	for (uint64_t i = 0; !rc && i < g->words; i++) {
		g->set[i] |= g->guest[i] | g->vmm[i];
		g->vmm_all[i] |= g->vmm[i];
		g->fetched_all[i] |= g->set[i];
	}
	return rc;
}

static int read_byte(int sock, char *c)
{
	for (;;) {
		ssize_t n = read(sock, c, 1);

		if (n == 1)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -errno : -ECONNRESET;
	}
}

/*
 * Auto-converge: the guest wrote more during the round than half of what the round sent
 * (it dirties faster than the link carries): slow its vCPUs down one more step.
 */
static void converge(struct mig *g, uint64_t dirtied, uint64_t sent)
{
	unsigned pct = vm_throttle_pct(g->d->vm);

	if (dirtied <= sent / 2 || pct >= VM_THROTTLE_MAX)
		return;
	pct = pct ? pct + MIG_THROTTLE_STEP : MIG_THROTTLE_INITIAL;
	if (pct > VM_THROTTLE_MAX)
		pct = VM_THROTTLE_MAX;
	vm_throttle_set(g->d->vm, pct);
	g->rep->throttle_pct = pct;
	log_info("domain %s: auto-converge: its vCPUs throttled to %u%%", g->d->cfg.name, pct);
}

static int rounds(struct mig *g, const struct migrate_opts *o, char *err, size_t errlen)
{
	uint64_t rate = 0; /* bytes per second, measured */

	if (o->postcopy) { /* at once: every page follows the switch-over */
		say(g, "{\"event\":\"migration\",\"phase\":\"switch-over\",\"round\":0,"
		    "\"postcopy\":true}");
		return 0;
	}
	all_pages(g);
	for (unsigned round = 0;; round++) {
		uint64_t n = dirty_count(g->set, g->nr_pages), t0 = monotonic_ns(), bytes0;
		uint64_t expect_ms = rate ? n * PAGE * 1000 / rate : UINT64_MAX;
		struct mig_round r = {.round = round, .pages = n};

		if (round && (expect_ms <= o->downtime_ms || round >= o->max_rounds)) {
			say(g, "{\"event\":\"migration\",\"phase\":\"switch-over\",\"round\":%u,"
			    "\"dirty_pages\":%llu,\"expected_downtime_ms\":%llu}", round,
			    (unsigned long long)n, (unsigned long long)expect_ms);
			return 0;
		}
		bytes0 = g->rep->bytes;
		snap_write(&g->w, SNAP_MIG_ROUND, SNAP_OPTIONAL, &r, sizeof(r));
		if (send_set(g, g->set, round == 0)) {
			if (g->w.error == -ECANCELED)
				snprintf(err, errlen, "the domain ended during the migration");
			else
				snprintf(err, errlen, "round %u: cannot send to the destination: %s",
					 round, strerror(-g->w.error));
			return g->w.error;
		}
		g->rep->rounds = round + 1;
		memset(g->set, 0, g->words * 8); /* sent: the next round is what fetch adds */
		uint64_t dt = monotonic_ns() - t0 + 1, sent = g->rep->bytes - bytes0, dirty;
		int rc = fetch(g);

		if (rc) {
			snprintf(err, errlen, "cannot read the dirty log: %s", strerror(-rc));
			return rc;
		}
		/* The rate of a round too small to measure is not a rate. */
		if (sent >= (64u << 10) || !rate)
			rate = sent * 1000000000ull / dt;
		dirty = dirty_count(g->set, g->nr_pages);
		if (o->auto_converge)
			converge(g, dirty * PAGE, sent);
		say(g, "{\"event\":\"migration\",\"phase\":\"round\",\"round\":%u,"
		    "\"pages\":%llu,\"bytes_sent\":%llu,\"rate_mbps\":%.1f,"
		    "\"remaining_pages\":%llu,\"dirty_rate_mbps\":%.1f,"
		    "\"expected_downtime_ms\":%.2f,\"throttle_pct\":%u}", round,
		    (unsigned long long)n, (unsigned long long)g->rep->bytes, rate * 8 / 1e6,
		    (unsigned long long)dirty, dirty * PAGE * 8 * 1e3 / (double)dt,
		    rate ? dirty * PAGE * 1e3 / rate : 0.0, vm_throttle_pct(g->d->vm));
	}
}

/* The disks go to the destination (shared storage, the same paths): their locks are
 * released while paused, and taken back if the migration fails. */
static int hand_over_disks(struct domain *d, bool release)
{
	const struct device_kind *disk = device_kind_by_name("disk");
	int rc = 0;

	for (unsigned i = 0; i < d->nr_devices; i++)
		if (d->devices[i].kind == disk && d->devices[i].backend) {
			int r = blk_hand_over(d->devices[i].backend, release);

			if (r && !release)
				log_warn("domain %s: cannot take its disk's lock back: %s",
					 d->cfg.name, strerror(-r));
			rc = rc ? rc : r;
		}
	return rc;
}

/* Post-copy: which pages hold data (g->set), for the destination to ask or wait for. */
static void postcopy_announce(struct mig *g)
{
	size_t len = 8 + g->words * 8;
	uint8_t *b = malloc(len);

	if (!b) {
		g->w.error = -ENOMEM;
		return;
	}
	memcpy(b, &g->nr_pages, 8);
	memcpy(b + 8, g->set, g->words * 8);
	snap_write(&g->w, SNAP_MIG_POSTCOPY, 0, b, len);
	free(b);
}

static bool pc_bit(const uint64_t *b, uint64_t p)
{
	return b[p / 64] >> (p % 64) & 1;
}

/* Post-copy, after the go: the pages the destination asks for first, the rest in order
 * between them, then SNAP_MIG_DONE and its MIG_PC_DONE. g->guest holds what went. */
static int postcopy_serve(struct mig *g, char *err, size_t errlen)
{
	uint64_t *sent = g->guest, next = 0, total = 0, done[1];
	uint8_t in[512];
	size_t have = 0;

	memset(sent, 0, g->words * 8);
	for (;;) {
		struct pollfd p = {.fd = g->w.fd, .events = POLLIN};
		uint64_t n = 0;

		if (poll(&p, 1, 0) > 0) {
			ssize_t k = read(g->w.fd, in + have, sizeof(in) - have);

			if (k <= 0)
				goto gone;
			have += (size_t)k;
			total += (uint64_t)k;
			while (have >= 8) {
				uint64_t pfn;

				memcpy(&pfn, in, 8);
				memmove(in, in + 8, have - 8);
				have -= 8;
				if (pfn < g->nr_pages && pc_bit(g->set, pfn) && !pc_bit(sent, pfn)) {
					send_batch(g, pfn, 1);
					sent[pfn / 64] |= 1ull << (pfn % 64);
					g->rep->pc_requested++;
					g->rep->pc_pushed++;
				}
			}
		}
		while (next < g->nr_pages && (!pc_bit(g->set, next) || pc_bit(sent, next)))
			next++;
		if (next >= g->nr_pages || g->w.error)
			break;
		while (next + n < g->nr_pages && n < MIG_MAX_BATCH && pc_bit(g->set, next + n) &&
		       !pc_bit(sent, next + n)) {
			sent[(next + n) / 64] |= 1ull << ((next + n) % 64);
			n++;
		}
		send_batch(g, next, n);
		g->rep->pc_pushed += n;
	}
	done[0] = g->rep->pc_pushed;
	snap_write(&g->w, SNAP_MIG_DONE, 0, done, sizeof(done));
	if (g->w.error)
		goto gone;
	/* Whole requests (8 bytes each) may still come, then the one byte that says done. */
	while (total % 8 != 1 || in[have - 1] != MIG_PC_DONE) {
		struct pollfd p = {.fd = g->w.fd, .events = POLLIN};
		ssize_t k;

		if (have == sizeof(in))
			memmove(in, in + have - 8, 8), have = 8;
		if (poll(&p, 1, 30000) <= 0 || (k = read(g->w.fd, in + have, sizeof(in) - have)) <= 0)
			goto gone;
		have += (size_t)k;
		total += (uint64_t)k;
	}
	log_info("domain %s: post-copy: %llu pages sent after the switch-over, %llu of them "
		 "asked for", g->d->cfg.name, (unsigned long long)g->rep->pc_pushed,
		 (unsigned long long)g->rep->pc_requested);
	return 0;
gone:
	snprintf(err, errlen, "post-copy: the destination went away after the switch-over "
		 "(%llu of %llu pages sent): the domain is lost", (unsigned long long)g->rep->pc_pushed,
		 (unsigned long long)dirty_count(g->set, g->nr_pages));
	return g->w.error ? g->w.error : -ECONNRESET;
}

/* Paused: the last pages, the state, the handshake. */
static int switch_over(struct mig *g, char *err, size_t errlen)
{
	struct domain *d = g->d;
	struct snap_diff_ctx dc = {0};
	uint32_t end[2];
	char c;
	int rc;

	if (d->kind == DOMAIN_PV)
		pv_console_drain(&d->k.pv);
	snap_mark_kept(d);
	if (g->postcopy) {
		/* No page goes now: the destination learns which hold data (paused, this is
		 * final), and asks for them or gets them pushed after the go. */
		all_pages(g);
		postcopy_announce(g);
	} else {
		if ((rc = fetch(g))) {
			snprintf(err, errlen, "cannot read the dirty log: %s", strerror(-rc));
			return rc;
		}
		for (uint64_t i = 0; i < g->words; i++)
			g->set[i] |= g->vmm_all[i];
		g->rep->last_pages = dirty_count(g->set, g->nr_pages);
		if (send_set(g, g->set, false)) {
			snprintf(err, errlen, "the last round: cannot send to the destination: %s",
				 strerror(-g->w.error));
			return g->w.error;
		}
	}
	end[0] = g->w.crc;
	end[1] = 0;
	snap_write(&g->w, SNAP_MIG_STATE, 0, end, sizeof(end));
	if (g->w.error) {
		snprintf(err, errlen, "cannot send to the destination: %s", strerror(-g->w.error));
		return g->w.error;
	}
	if (getrandom(dc.chain.id, sizeof(dc.chain.id), 0) != sizeof(dc.chain.id)) {
		snprintf(err, errlen, "cannot make an id: %s", strerror(errno));
		return -EIO;
	}
	if ((rc = hand_over_disks(d, true))) {
		snprintf(err, errlen, "cannot release the disks' locks: %s", strerror(-rc));
		hand_over_disks(d, false);
		return rc;
	}
	g->disks_released = true;
	rc = snap_write_state(d, g->w.fd, d->generation, &dc, err, errlen);
	if (rc)
		return rc;
	rc = read_byte(g->w.fd, &c);
	if (rc || c != MIG_READY) {
		snprintf(err, errlen, "the destination %s", rc ? "went away before it was ready"
			 : "could not build the domain (see its log)");
		return rc ? rc : -EREMOTEIO;
	}
	/* From here the destination owns the domain. */
	if (write(g->w.fd, &(char){MIG_GO}, 1) != 1) {
		snprintf(err, errlen, "cannot tell the destination to go: %s", strerror(errno));
		return -errno;
	}
	g->gone = true;
	g->go_ns = monotonic_ns(); /* the downtime ends: the destination runs it */
	return g->postcopy ? postcopy_serve(g, err, errlen) : 0;
}

int migrate_send(struct domain *d, int sock, const struct migrate_opts *o,
		 migrate_progress_fn *progress, void *opaque, struct migrate_report *rep,
		 char *err, size_t errlen)
{
	struct mig g = {.d = d, .rep = rep, .progress = progress, .opaque = opaque,
			.postcopy = o->postcopy};
	uint64_t t0 = monotonic_ns(), tp = 0;
	bool was_running, log_was_on;
	struct snap_header h = {.version = SNAP_VERSION, .arch = SNAP_ARCH_X86_64,
				.flags = SNAP_HDR_MIGRATION};
	char what[64];
	int rc = -ENOMEM;

	memset(rep, 0, sizeof(*rep));
	err[0] = 0;
	/* Held: a guest that powers off meanwhile is not torn down under the rounds. */
	if (domain_hold(d, &was_running, what, sizeof(what))) {
		snprintf(err, errlen, "cannot migrate a domain that is %s", what);
		return -EINVAL;
	}
	g.m = &d->vm->mem;
	g.nr_pages = g.m->size / PAGE;
	g.words = dirty_words(g.nr_pages);
	memcpy(h.magic, SNAP_MAGIC, 8);
	h.kind = d->kind == DOMAIN_PV ? SNAP_KIND_PV : SNAP_KIND_HVM;
	h.mem_bytes = g.m->size;
	g.set = calloc(g.words, 8);
	g.guest = calloc(g.words, 8);
	g.vmm = calloc(g.words, 8);
	g.vmm_all = calloc(g.words, 8);
	g.fetched_all = calloc(g.words, 8);
	g.batch = malloc(sizeof(struct mig_pages) + MIG_MAX_BATCH * PAGE);
	if (!g.set || !g.guest || !g.vmm || !g.vmm_all || !g.fetched_all || !g.batch) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* A snapshot's log may be on: the migration's fetches are put back if it fails, so
	 * the next diff still holds everything since that snapshot. */
	log_was_on = gmem_dirty_on(g.m);
	if (!log_was_on && (rc = vm_dirty_start(d->vm))) {
		snprintf(err, errlen, "cannot start dirty logging: %s", strerror(-rc));
		goto out;
	}
	if (log_was_on && (rc = fetch(&g))) {
		snprintf(err, errlen, "cannot read the dirty log: %s", strerror(-rc));
		goto out;
	}
	log_info("domain %s: migrating (downtime limit %llu ms, at most %u rounds)", d->cfg.name,
		 (unsigned long long)o->downtime_ms, o->max_rounds);
	snap_writer_init(&g.w, sock, &h);
	rc = rounds(&g, o, err, errlen);
	vm_throttle_set(d->vm, 0); /* paused next, or running on: at full speed either way */
	if (!rc && was_running && (rc = domain_pause(d)) < 0)
		snprintf(err, errlen, "cannot pause the domain: %s", strerror(-rc));
	else if (rc >= 0) { /* domain_pause: how many vCPUs it stopped */
		rc = 0;
		tp = monotonic_ns();
		rc = switch_over(&g, err, errlen);
		rep->downtime_ns = (g.go_ns ? g.go_ns : monotonic_ns()) - tp;
		if (rc && g.gone) {
			/* After the go nothing can be taken back: the destination runs it, or, with
			 * pages it never got, nobody does. It ends here either way. */
			log_err("domain %s: %s", d->cfg.name, err);
			say(&g, "{\"event\":\"migration\",\"phase\":\"lost\"}");
			pthread_mutex_lock(&d->lock);
			d->end_requested = true;
			pthread_mutex_unlock(&d->lock);
			domain_end(d, VM_END_CRASH, 0);
			goto out;
		}
		if (rc && g.disks_released)
			hand_over_disks(d, false);
		if (rc && was_running)
			domain_resume(d);
	}
	rep->total_ns = monotonic_ns() - t0;
	if (rc) {
		/* The source runs on as if nothing happened. */
		if (log_was_on)
			gmem_dirty_unfetch(g.m, g.fetched_all);
		else
			vm_dirty_stop(d->vm);
		log_warn("domain %s: migration failed, it runs on here: %s", d->cfg.name, err);
		say(&g, "{\"event\":\"migration\",\"phase\":\"failed\"}");
		goto out;
	}
	log_info("domain %s: migrated in %u rounds, %llu bytes, paused %.2f ms; it ends here",
		 d->cfg.name, rep->rounds, (unsigned long long)rep->bytes, rep->downtime_ns / 1e6);
	say(&g, "{\"event\":\"migration\",\"phase\":\"done\",\"rounds\":%u,\"bytes\":%llu,"
	    "\"downtime_ms\":%.2f,\"throttle_pct\":%u,\"postcopy_pages\":%llu,"
	    "\"postcopy_requested\":%llu}", rep->rounds, (unsigned long long)rep->bytes,
	    rep->downtime_ns / 1e6, rep->throttle_pct, (unsigned long long)rep->pc_pushed,
	    (unsigned long long)rep->pc_requested);
	pthread_mutex_lock(&d->lock);
	d->end_requested = true;
	d->saved = true;
	d->migrated = true;
	pthread_mutex_unlock(&d->lock);
	domain_end(d, VM_END_POWEROFF, 0);
out:
	domain_release(d);
	free(g.set);
	free(g.guest);
	free(g.vmm);
	free(g.vmm_all);
	free(g.fetched_all);
	free(g.batch);
	return rc;
}
