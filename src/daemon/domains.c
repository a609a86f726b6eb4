/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The table of domains and what happens to one when its VMM ends. The VMM applies the
 * lifecycle actions it can see itself (on_reboot=restart, on_poweroff=preserve, ...) and
 * only ends when the action is to end; so an ended VMM is settled from its exit file:
 * poweroff, reboot, timeout, signal: shut off (xl's 's'); crash or a VMM error: crashed
 * ('c'). A VMM that ended without an exit file was killed (kill -9, the OOM killer): that
 * is a crash of the domain, and on_crash=restart starts it again here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "capsule/api.h"
#include "capsule/console_ring.h"
#include "daemon.h"

static const char *const state_names[] = {"running", "paused", "shutoff", "crashed", "dying"};

const char *dstate_name(enum dstate s)
{
	return s <= DS_DYING ? state_names[s] : "?";
}

char dstate_letter(enum dstate s)
{
	return "rpscd"[s <= DS_DYING ? s : 4];
}

/* By name, then by id (digits), then by UUID. */
struct ddom *dom_find(struct daemon *dm, const char *key)
{
	bool digits = *key && strspn(key, "0123456789") == strlen(key) && strlen(key) < 18;
	long long id = digits ? atoll(key) : -1;

	for (unsigned i = 0; i < dm->nr_doms; i++)
		if (!strcmp(dm->doms[i]->name, key))
			return dm->doms[i];
	for (unsigned i = 0; i < dm->nr_doms; i++)
		if (dm->doms[i]->id == id || !strcasecmp(dm->doms[i]->uuid, key))
			return dm->doms[i];
	return NULL;
}

struct ddom *dom_find_id(struct daemon *dm, int64_t id)
{
	for (unsigned i = 0; i < dm->nr_doms; i++)
		if (dm->doms[i]->id == id)
			return dm->doms[i];
	return NULL;
}

int dom_add(struct daemon *dm, struct ddom *d)
{
	if (dm->nr_doms == DAEMON_MAX_DOMAINS)
		return -ENOSPC;
	dm->doms[dm->nr_doms++] = d;
	return 0;
}

void dom_forget(struct daemon *dm, struct ddom *d)
{
	for (unsigned i = 0; i < dm->nr_doms; i++)
		if (dm->doms[i] == d) {
			memmove(&dm->doms[i], &dm->doms[i + 1],
				(dm->nr_doms - i - 1) * sizeof(dm->doms[0]));
			dm->nr_doms--;
			return;
		}
}

void dom_event_uid(struct daemon *dm, const struct ddom *d, uint32_t uid, const char *event,
		   const char *detail)
{
	char line[2048];

	if (db_add_event(dm, d, event, detail, uid, line, sizeof(line)))
		return;
	if (line[0])
		streams_send(dm, TOPIC_EVENTS, line);
	fprintf(stderr, "capsuled: domain %s (id %lld): %s%s%s\n", d->name, (long long)d->id,
		event, detail[0] ? ": " : "", detail);
}

void dom_event(struct daemon *dm, const struct ddom *d, const char *event, const char *fmt, ...)
{
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	dom_event_uid(dm, d, 0, event, detail);
}

void monitor_watch(struct daemon *dm, struct ddom *d)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)d->id};

	if (d->pidfd >= 0 && epoll_ctl(dm->epfd, EPOLL_CTL_ADD, d->pidfd, &ev) < 0)
		fprintf(stderr, "capsuled: cannot watch the VMM of %s: %s\n", d->name,
			strerror(errno));
}

static void unwatch(struct daemon *dm, struct ddom *d)
{
	if (d->pidfd >= 0) {
		epoll_ctl(dm->epfd, EPOLL_CTL_DEL, d->pidfd, NULL);
		close(d->pidfd);
	}
	d->pidfd = -1;
	d->pid = 0;
	d->pid_start = 0;
}

/* Tell the console's readers (they stop, or wait for a restart). */
static void console_end(struct daemon *dm, const struct ddom *d)
{
	char line[96];

	snprintf(line, sizeof(line), "{\"end\": \"%s\"}",
		 d->removed ? "destroyed" : dstate_name(d->state));
	streams_send(dm, TOPIC_CONSOLE(d->id), line);
}

void dom_from_config(struct ddom *d, json_t *checked, const char *kind)
{
	snprintf(d->name, sizeof(d->name), "%s",
		 json_string_value(json_object_get(checked, "name")));
	snprintf(d->kind, sizeof(d->kind), "%s", kind);
	d->mem_mib = (unsigned)json_integer_value(json_object_get(checked, "memory"));
	d->vcpus = (unsigned)json_integer_value(json_object_get(checked, "vcpus"));
	dom_sched_from_config(d, checked);
	snprintf(d->on_poweroff, sizeof(d->on_poweroff), "%s",
		 json_string_value(json_object_get(checked, "on_poweroff")));
	snprintf(d->on_reboot, sizeof(d->on_reboot), "%s",
		 json_string_value(json_object_get(checked, "on_reboot")));
	snprintf(d->on_crash, sizeof(d->on_crash), "%s",
		 json_string_value(json_object_get(checked, "on_crash")));
	d->state = DS_RUNNING;
	d->exit_status = -1;
	d->pidfd = d->con_in = -1;
	d->created_at = d->started_at = time(NULL);
	make_uuid(d->uuid);
}

void dom_remove(struct daemon *dm, struct ddom *d)
{
	char dir[4200];

	unwatch(dm, d);
	d->removed = true;
	console_end(dm, d);
	if (db_delete_domain(dm, d->id))
		fprintf(stderr, "capsuled: cannot delete domain %s from the database\n", d->name);
	if (d->ring)
		munmap(d->ring, CONSOLE_RING_FILE_SIZE);
	if (d->con_in >= 0)
		close(d->con_in);
	dom_path(dm, d, NULL, dir, sizeof(dir));
	remove_dom_dir(dir);
	dom_cgroup_remove(dm, d);
	fprintf(stderr, "capsuled: domain %s (id %lld) destroyed\n", d->name, (long long)d->id);
	dom_forget(dm, d);
	free(d);
	pthread_cond_broadcast(&dm->changed);
}

/* The exit file: true with status and reason if the VMM wrote it whole. */
static bool read_exit(struct daemon *dm, const struct ddom *d, int *status, char *reason,
		      size_t len, int *code)
{
	char path[4200], buf[512];
	json_t *j, *s, *r;
	ssize_t n;
	int fd;
	bool ok = false;

	dom_path(dm, d, "exit", path, sizeof(path));
	/* O_NONBLOCK here and on every file of the domain's directory capsuled opens: a
	 * FIFO put in a file's place must not hang capsuled (an open blocks for a peer). */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || buf[n - 1] != '\n') /* empty, or cut short: not written whole */
		return false;
	buf[n] = 0;
	j = json_loads(buf, 0, NULL);
	s = json_object_get(j, "status");
	r = json_object_get(j, "reason");
	if (json_is_integer(s) && json_is_string(r)) {
		*status = (int)json_integer_value(s);
		*code = (int)json_integer_value(json_object_get(j, "code"));
		snprintf(reason, len, "%s", json_string_value(r));
		ok = true;
	}
	json_decref(j);
	return ok;
}

static void restart(struct daemon *dm, struct ddom *d, const char *why)
{
	char err[512] = "cannot write its configuration", dir[4200], *cfg = db_domain_config(dm, d->id);

	dom_path(dm, d, NULL, dir, sizeof(dir));
	if (!cfg || write_config(dir, cfg) || spawn_vmm(dm, d, err, sizeof(err))) {
		free(cfg);
		d->state = DS_CRASHED;
		db_update_domain(dm, d);
		dom_event(dm, d, "crashed", "%s; on_crash=restart failed: %s", why, err);
		return;
	}
	free(cfg);
	d->state = DS_RUNNING;
	d->started_at = time(NULL);
	d->restarts++;
	db_update_domain(dm, d);
	dom_event(dm, d, "crashed", "%s", why);
	dom_event(dm, d, "restarted", "on_crash=restart: VMM pid %d (restart %u)", (int)d->pid,
		  d->restarts);
	monitor_watch(dm, d);
	pthread_cond_broadcast(&dm->changed);
}

void dom_vmm_ended(struct daemon *dm, struct ddom *d)
{
	int status = -1, code = 0;
	char reason[16] = "";

	unwatch(dm, d);
	console_relay_one(dm, d); /* its last words first */
	if (d->state == DS_DYING) {
		dom_remove(dm, d);
		return;
	}
	d->ended_at = time(NULL);
	dom_cgroup_remove(dm, d); /* empty now; a restart makes it again (sched.c) */
	if (d->con_in >= 0) {
		close(d->con_in);
		d->con_in = -1;
	}
	if (!read_exit(dm, d, &status, reason, sizeof(reason), &code)) {
		d->exit_status = -1;
		snprintf(d->exit_reason, sizeof(d->exit_reason), "killed");
		if (!strcmp(d->on_crash, "restart")) {
			restart(dm, d, "the VMM ended without recording how (killed by a signal)");
			return;
		}
		d->state = DS_CRASHED;
		db_update_domain(dm, d);
		dom_event(dm, d, "crashed", "the VMM ended without recording how (killed by a "
			  "signal); on_crash=%s", d->on_crash);
		console_end(dm, d);
		pthread_cond_broadcast(&dm->changed);
		return;
	}
	d->exit_status = status;
	snprintf(d->exit_reason, sizeof(d->exit_reason), "%s", reason);
	if (!strcmp(reason, "crash") || !strcmp(reason, "error")) {
		d->state = DS_CRASHED;
		db_update_domain(dm, d);
		dom_event(dm, d, "crashed", "%s, exit status %d; on_crash=%s", reason, status,
			  d->on_crash);
	} else if (!strcmp(reason, "saved")) { /* capsule save (api_snap.c): shut off, saved */
		d->state = DS_SHUTOFF;
		db_update_domain(dm, d);
		dom_event(dm, d, "shutdown", "saved, exit status %d", status);
	} else {
		d->state = DS_SHUTOFF;
		db_update_domain(dm, d);
		dom_event(dm, d, "shutdown", "%s, code %d, exit status %d; %s=destroy", reason,
			  code, status, !strcmp(reason, "reboot") ? "on_reboot" : "on_poweroff");
	}
	console_end(dm, d);
	pthread_cond_broadcast(&dm->changed);
}

uint64_t proc_cpu_ns(pid_t pid)
{
	char buf[1024];
	const char *f = proc_stat_fields(pid, buf, sizeof(buf));
	unsigned long long ut = 0, st = 0;

	if (!f || sscanf(f, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (ut + st) * (1000000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
}

uint64_t proc_rss_kib(pid_t pid)
{
	char path[64], buf[256];
	unsigned long long pages = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	sscanf(buf, "%*u %llu", &pages);
	return pages * (unsigned long long)sysconf(_SC_PAGESIZE) / 1024;
}

json_t *dom_json(const struct ddom *d, bool full)
{
	bool live = d->pid > 0 && (d->state == DS_RUNNING || d->state == DS_PAUSED);
	uint64_t cpu = live ? proc_cpu_ns(d->pid) : 0;
	json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s#, s:i, s:i, s:f, s:I, s:i, s:s, s:i}",
			      "id", (json_int_t)d->id, "name", d->name, "uuid", d->uuid,
			      "type", d->kind, "state", dstate_name(d->state), "state_letter",
			      &"rpscd"[d->state <= DS_DYING ? d->state : 4], 1,
			      "memory_mib", (int)d->mem_mib, "vcpus", (int)d->vcpus,
			      "cpu_time_s", cpu / 1e9, "pid", (json_int_t)(live ? d->pid : 0),
			      "exit_status", d->exit_status, "exit_reason", d->exit_reason,
			      "restarts", (int)d->restarts);

	if (full && j) {
		int64_t now = time(NULL), end = live ? now : d->ended_at;

		json_object_set_new(j, "created_at", json_integer(d->created_at));
		json_object_set_new(j, "started_at", json_integer(d->started_at));
		json_object_set_new(j, "ended_at", json_integer(d->ended_at));
		json_object_set_new(j, "uptime_s",
				    json_integer(end > d->started_at ? end - d->started_at : 0));
		json_object_set_new(j, "on_poweroff", json_string(d->on_poweroff));
		json_object_set_new(j, "on_reboot", json_string(d->on_reboot));
		json_object_set_new(j, "on_crash", json_string(d->on_crash));
		json_object_set_new(j, "vmm_start_time", json_integer((json_int_t)d->pid_start));
		if (live)
			json_object_set_new(j, "vmm_rss_kib",
					    json_integer((json_int_t)proc_rss_kib(d->pid)));
		if (live)
			ksm_dom_json(j, d->pid);
		mempolicy_dom_json(d, j);
	}
	return j;
}
