/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsuled's insides (docs/capsuled.md is the reference):
 *
 *   main.c      options, the socket, start and stop
 *   db.c        the SQLite database: schema, migrations, rows
 *   spawn.c     one VMM process per domain: double fork, pre-bound socket, pidfd
 *   domains.c   the table of domains, lookups, what happens when a VMM ends
 *   reattach.c  start-up: re-attach to running VMMs, settle the ones that ended
 *   monitor.c   the monitor thread: VMM exits (pidfds) and console relays
 *   config.c    a create request's configuration: parse (JSON or xl.cfg), check
 *   api.c       the routes, access control, request logging
 *   api_dom.c   create, list, info
 *   api_ctl.c   pause, unpause, shutdown, reboot, destroy, mem-set
 *   api_io.c    console, events, log, metrics
 *   api_snap.c  save, snapshot, restore, clone (snapshot directories are the client's)
 *   mempolicy.c the memory policy thread (--mem-limit): balloon targets by shares and use
 *   migrate.c   capsule migrate: the outgoing request and the incoming listener
 *   ksm.c       page sharing: KSM turned on and tuned (--ksm-cpu), and its counters
 *   sched.c     CPU control: each domain's cgroup, weight, cap, vCPU pinning (resources.md)
 *   web*.c      the web dashboard (--web): its listener, login, proxy, WebSockets (web.h)
 *
 * Threads: API_THREADS API servers on the one socket (handlers), the monitor, and main
 * (signals). One mutex (daemon.lock) guards the table and the database; nobody holds it
 * while talking to a VMM, and a VMM that does not answer holds one API thread only.
 */
#ifndef CAPSULE_DAEMON_H
#define CAPSULE_DAEMON_H

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "capsule/procstat.h"
#include "capsule/cgroup.h"

#define DAEMON_MAX_DOMAINS 4096
#define TOPIC_EVENTS 1ull
#define TOPIC_CONSOLE(id) ((1ull << 32) + (uint64_t)(id))
#define VMM_TIMEOUT_MS 3000
#define API_THREADS 8 /* requests served at once (each may wait on a VMM) */

#define KSM_SAVED 4

enum dstate { DS_RUNNING, DS_PAUSED, DS_SHUTOFF, DS_CRASHED, DS_DYING };

struct relay;

struct ddom {
	int64_t id;
	char uuid[37];
	char name[64];
	char kind[4];          /* "pv" or "hvm" */
	unsigned mem_mib, vcpus;
	enum dstate state;
	pid_t pid;             /* the VMM, 0 when none */
	uint64_t pid_start;    /* its start time (/proc/PID/stat field 22) */
	int pidfd;             /* -1 when none */
	int64_t created_at, started_at, ended_at; /* unix seconds */
	int exit_status;       /* capsule run's, -1 if none recorded */
	char exit_reason[16];  /* poweroff, reboot, crash, timeout, signal, error, killed */
	char on_poweroff[10], on_reboot[10], on_crash[10];
	unsigned restarts;
	void *ring;            /* the console ring file, mapped read-only, or NULL */
	uint64_t con_sent;     /* console position relayed to streams */
	int con_in;            /* the console input FIFO, for writing, or -1 */
	int32_t writer_pid;    /* the console's writer (one at a time) */
	int64_t writer_at;
	bool removed;          /* destroyed: the row is gone, the struct goes soon */
	uid_t jail_uid;        /* its jailed VMM's uid and gid (--jail-uid), 0 until spawned */
	/* mempolicy.c, under the lock: memory_min and memory_shares (mp_known once read
	 * from the config), and the policy's last view of the domain. */
	bool mp_known;
	uint64_t mp_min_mib, mp_shares, mp_balloon_mib, mp_active_mib;
	/* The two samples behind mp_active_mib (-1: none): the balloon's statistics (in use,
	 * not free) and the dirty log's write working set; decisions: balloon targets set. */
	int64_t mp_active_balloon_mib, mp_active_dirty_mib;
	uint64_t mp_decisions;
	double mp_rho, mp_idle;
	unsigned mp_waits;     /* ticks its guest has not reported free memory */
	unsigned cpu_weight, cap; /* Xen's (sched.c): its cgroup's, kept in its config */
	struct relay *migrating; /* an outgoing migration's relay (migrate.c), or NULL */
	bool watch_relay;        /* its VMM's watch events are relayed (watch_relay.c) */
};

struct daemon {
	const char *socket_path, *state_dir, *vmm_path;
	bool vmm_no_seccomp;
	bool jail;             /* --jail-uid: every VMM jailed (docs/jailer.md) */
	uid_t jail_uid;        /* the first of the jailed VMMs' uids */
	uint64_t jail_next, jail_end; /* the block of offsets this capsuled hands out */
	char dom_dir[4096];    /* state_dir/domains */
	gid_t group;           /* the capsule group, or (gid_t)-1 */
	pthread_mutex_t lock;
	pthread_cond_t changed; /* a domain ended or went */
	sqlite3 *db;
	struct ddom *doms[DAEMON_MAX_DOMAINS];
	unsigned nr_doms;
	struct api_server *servers[API_THREADS];
	unsigned nr_servers;   /* set once they all run (under lock) */
	int epfd;              /* the monitor's epoll: pidfds */
	int stop_fd;           /* eventfd: the monitor stops */
	pthread_t monitor;
	const char *migrate_tls; /* --migrate-tls DIR, or NULL */
	bool migrate_insecure;   /* --migrate-insecure: plain TCP accepted in */
	int migrate_fd;          /* --migrate-listen's socket, or -1 */
	pthread_t migrate_thread;
#define MIGRATE_IN_MAX 4         /* incoming migrations at once */
	unsigned migrate_in_active;  /* under lock: their connections */
	char migrate_in_names[MIGRATE_IN_MAX][64]; /* under lock: the names they bring */
	uint64_t host_mem_mib;
	int64_t started_ns;
	/* ksm.c: KSM within a CPU budget (0: the host's KSM is left alone), and what the
	 * host had before, put back at stop. */
	unsigned ksm_cpu_pct, ksm_scan_s;
	bool ksm_tuned;
	char ksm_saved[KSM_SAVED][32];
	/* mempolicy.c: the guests' memory budget (0: no policy), the tax, and the thread. */
	uint64_t mp_limit_mib, mp_budget_mib, mp_over_mib;
	bool mp_auto;             /* --mem-limit auto: MemAvailable and PSI set the budget */
	double mp_psi10;          /* the last /proc/pressure/memory "some avg10" read */
	const char *mem_cgroup;   /* --mem-cgroup: every VMM joins it; its limit is the budget */
	int mem_cgroup_procs;     /* its cgroup.procs, open for the VMMs to write, or -1 */
	double mp_tau;
	/* --wss-period, --wss-sample: the sampler's settings for domains whose configuration
	 * names none (0: the VMM's defaults; wss_sample -1: as the VMM's default). */
	uint32_t wss_period_ms;
	int32_t wss_sample;
	pthread_t mp_thread;
	pthread_mutex_t mp_lock;
	pthread_cond_t mp_cond;
	bool mp_stop, mp_running;
	/* CPU control (sched.c): --cgroup auto|v1|v2|off, --cgroup-parent; cg.version is 0
	 * when it is off, and cg_why says why. */
	const char *cg_mode, *cg_parent;
	struct cgroup_host cg;
	char cg_why[300];
};

/* db.c */
int db_open(struct daemon *dm, char *err, size_t errlen);
void db_close(struct daemon *dm);
int db_begin(struct daemon *dm);
int db_commit(struct daemon *dm);
void db_rollback(struct daemon *dm);
/* Insert or update d's row (with the config text on insert: config non-NULL). */
int db_insert_domain(struct daemon *dm, struct ddom *d, const char *config);
int db_update_domain(struct daemon *dm, const struct ddom *d);
int db_delete_domain(struct daemon *dm, int64_t id);
char *db_domain_config(struct daemon *dm, int64_t id); /* malloc'd, or NULL */
int db_set_domain_config(struct daemon *dm, int64_t id, const char *config);
int db_load_domains(struct daemon *dm);
int db_add_event(struct daemon *dm, const struct ddom *d, const char *event, const char *detail,
		 uint32_t uid, char *line, size_t linelen);
/* The last n events (of domain id, or all when id < 0), oldest first, as a JSON array. */
json_t *db_events(struct daemon *dm, int64_t id, unsigned n);
long db_count(struct daemon *dm, const char *table);
/* col "restored_from" or "saved_to": the snapshot directory; and both into a JSON object. */
int db_set_snapshot(struct daemon *dm, int64_t id, const char *col, const char *dir);
void db_snapshot_fields(struct daemon *dm, int64_t id, json_t *out);

/* spawn.c */
int pidfd_open_checked(pid_t pid, uint64_t start); /* a pidfd for exactly that process, or -1 */
int vmm_pidfd(pid_t pid, uint64_t start, const char *dir); /* ... and it runs on dir's files */
/* Start d's VMM on its directory's files: 0 (d->pid, pid_start, pidfd set), or -errno. */
int spawn_vmm(struct daemon *dm, struct ddom *d, char *err, size_t errlen);
/* --jail-uid: take the next block of uids (STATE_DIR/jail-next), never one handed out by
 * an earlier capsuled on this state directory. 0, or -1 with err. */
int jail_ids_reserve(struct daemon *dm, char *err, size_t errlen);
/* ... or restoring a snapshot: run --restore dir (api_snap.c), mem_fd as the VMM's fd 4. */
#define SPAWN_MAX_MACS 8
struct spawn_restore {
	const char *dir;
	int mem_fd;
	char (*macs)[18]; /* each net device's new MAC, in order */
	char (*taps)[16]; /* and its new TAP device */
	unsigned nr_macs;
	int incoming_fd;  /* >= 0: not a snapshot but a migration's stream (migrate.c) */
};
int spawn_vmm_restore(struct daemon *dm, struct ddom *d, const struct spawn_restore *r,
		      char *err, size_t errlen);
void dom_path(const struct daemon *dm, const struct ddom *d, const char *file, char *out,
	      size_t len);
void remove_dom_dir(const char *dir);
void kill_orphan(const char *dir);

/* domains.c */
const char *dstate_name(enum dstate s);
char dstate_letter(enum dstate s);
struct ddom *dom_find(struct daemon *dm, const char *key);
struct ddom *dom_find_id(struct daemon *dm, int64_t id);
int dom_add(struct daemon *dm, struct ddom *d);
void dom_forget(struct daemon *dm, struct ddom *d);
/* Record an event (the database, then the streams); under dm->lock. */
void dom_event(struct daemon *dm, const struct ddom *d, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void dom_event_uid(struct daemon *dm, const struct ddom *d, uint32_t uid, const char *event,
		   const char *detail);
/* d's VMM is gone: record how, apply the lifecycle action. Under dm->lock. */
void dom_vmm_ended(struct daemon *dm, struct ddom *d);
/* Remove d for good (row, files); under dm->lock. */
void dom_remove(struct daemon *dm, struct ddom *d);
/* A new running domain's record from its checked configuration: name, kind, sizes,
 * actions, scheduling, a fresh UUID, no VMM yet (restore, clone, an incoming migration). */
void dom_from_config(struct ddom *d, json_t *checked, const char *kind);
json_t *dom_json(const struct ddom *d, bool full);
void monitor_watch(struct daemon *dm, struct ddom *d);
uint64_t proc_cpu_ns(pid_t pid);
uint64_t proc_rss_kib(pid_t pid);

/* ksm.c */
int ksm_start(struct daemon *dm, char *err, size_t errlen);
void ksm_stop(struct daemon *dm);
uint64_t ksm_counter(const char *name); /* /sys/kernel/mm/ksm/NAME, 0 if unreadable */
struct ksm_proc_stat {
	uint64_t merging_pages, zero_pages;
	int64_t profit_bytes;
};
int ksm_proc(pid_t pid, struct ksm_proc_stat *s); /* /proc/PID/ksm_stat: 0 or -1 */
json_t *ksm_host_json(const struct daemon *dm);
void ksm_dom_json(json_t *j, pid_t pid); /* adds "ksm" to a live domain's JSON */
void ksm_metrics(FILE *f);

/* sched.c */
struct http_request;
struct http_response;
int sched_init(struct daemon *dm, char *err, size_t errlen); /* -1: a forced mode failed */
void dom_sched_from_config(struct ddom *d, json_t *cfg);    /* cpu_weight, cap */
void dom_sched_load(struct daemon *dm, struct ddom *d);     /* ... from its stored config */
/* d's cgroup made and set, its cgroup.procs files open for the VMM to join (fds[i] -1
 * when none): 0, or -1 with err. */
int dom_cgroup_prepare(struct daemon *dm, struct ddom *d, int fds[2], char *err,
		       size_t errlen);
void dom_cgroup_remove(struct daemon *dm, struct ddom *d);
int64_t dom_cgroup_cpu_ns(struct daemon *dm, const struct ddom *d); /* -1 when unknown */
/* domain.info's "accounting" (docs/resources.md): the VMM's counters and the cgroup's CPU
 * time; not under dm->lock (it asks the VMM, bounded). */
void dom_accounting(struct daemon *dm, const char *uuid, pid_t pid, const char *sock,
		    json_t *out);
/* j's cpu_time_s from d's cgroup (every thread, in ns) where there is one; returns j. */
json_t *dom_cpu_time(struct daemon *dm, const struct ddom *d, json_t *j);
void api_sched_get(void *ctx, const struct http_request *req, struct http_response *resp);
void api_sched_put(void *ctx, const struct http_request *req, struct http_response *resp);
void api_vcpus(void *ctx, const struct http_request *req, struct http_response *resp);
void api_vcpu_pin(void *ctx, const struct http_request *req, struct http_response *resp);

/* mempolicy.c */
#define MP_SHARES_PER_MIB 10 /* default memory_shares: 10 per MiB, ESX's "normal" */
#define MP_PSI_SHORT 10.0 /* % stalled (some avg10) above which auto keeps more free */
#define MP_VMM_OVERHEAD_MIB 8 /* what a VMM holds besides guest memory, in a cgroup budget */
/* --mem-cgroup: open it and read its limit (v1 memory.limit_in_bytes, v2 memory.max). */
int mempolicy_cgroup_open(struct daemon *dm, char *err, size_t errlen);
int mempolicy_start(struct daemon *dm);
void mempolicy_stop(struct daemon *dm);
json_t *mempolicy_json(const struct daemon *dm);            /* under lock */
void mempolicy_dom_json(const struct ddom *d, json_t *j);   /* under lock */
void mempolicy_metrics(const struct daemon *dm, FILE *f);   /* under lock */
/* migrate.c: capsule migrate, both ends (docs/migration.md) */
struct http_request;
struct http_response;
int migrate_listen_start(struct daemon *dm, const char *spec, char *err, size_t errlen);
void migrate_listen_stop(struct daemon *dm);
void api_migrate(void *ctx, const struct http_request *req, struct http_response *resp);
void api_migrate_abort(void *ctx, const struct http_request *req, struct http_response *resp);

/* reattach.c */
int daemon_reattach(struct daemon *dm);

/* monitor.c */
int monitor_start(struct daemon *dm);
void monitor_stop(struct daemon *dm);

/* config.c */
/* A create body (JSON or xl.cfg) into a complete JSON config, checked: NULL with err. */
json_t *daemon_config(struct daemon *dm, const char *body, size_t len, char *kind, char *err,
		      size_t errlen);

/* api_ctl.c: forward one PUT to d's VMM; on success move the domain to state next (if
 * >= 0) and record event. */
enum fwd_need { FWD_RUNNING, FWD_PAUSED, FWD_LIVE };
struct http_request;
struct http_response;
void api_forward(struct daemon *dm, const struct http_request *req, struct http_response *resp,
		 enum fwd_need need, const char *path, const char *body, int next,
		 const char *event);
/* The same, passing nfds descriptors (the client's) to the VMM with the request. */
void api_forward_fds(struct daemon *dm, const struct http_request *req,
		     struct http_response *resp, enum fwd_need need, const char *path,
		     const char *body, int next, const char *event, const int *fds,
		     unsigned nfds);

/* api_dom.c */
int write_config(const char *dir, const char *text);
void make_uuid(char out[37]);
void kill_vmm(struct ddom *d); /* SIGKILL through the pidfd, wait a little, close it */
void vmm_log_tail(struct daemon *dm, struct ddom *d, char *out, size_t len);

/* api.c */
int daemon_api_start(struct daemon *dm, int listen_fd);
void daemon_api_stop(struct daemon *dm);
/* A line to the streams of topic on every API thread; how many there are. Under lock. */
void streams_send(struct daemon *dm, uint64_t topic, const char *line);
unsigned streams_watchers(struct daemon *dm, uint64_t topic);
/* The route table, for the web dashboard's proxy (web.c). */
struct api_route;
const struct api_route *daemon_routes(size_t *n);
struct http_request;
struct http_response;
/* Before a watch is armed through capsuled: relay the domain's VMM's watch events as
 * capsuled's "watch-fired" events, from now until the VMM ends (watch_relay.c). */
void watch_relay_ensure(struct daemon *dm, const struct http_request *req);
/* The domain a request's ?domain= names, or NULL with a 400/404 answered. Under lock. */
struct ddom *req_domain(struct daemon *dm, const struct http_request *req,
			struct http_response *resp);
bool query_get(const char *query, const char *key, char *out, size_t len);
void log_request(const struct http_request *req, int status);
void api_create(void *ctx, const struct http_request *req, struct http_response *resp);
void api_list(void *ctx, const struct http_request *req, struct http_response *resp);
void api_info(void *ctx, const struct http_request *req, struct http_response *resp);
/* capsule attest (api_attest.c): a signed statement of the launch measurement; the key. */
void api_attest(void *ctx, const struct http_request *req, struct http_response *resp);
void api_attest_key(void *ctx, const struct http_request *req, struct http_response *resp);
void api_pause(void *ctx, const struct http_request *req, struct http_response *resp);
void api_unpause(void *ctx, const struct http_request *req, struct http_response *resp);
void api_shutdown(void *ctx, const struct http_request *req, struct http_response *resp);
void api_reboot(void *ctx, const struct http_request *req, struct http_response *resp);
void api_destroy(void *ctx, const struct http_request *req, struct http_response *resp);
void api_memset(void *ctx, const struct http_request *req, struct http_response *resp);
void api_introspect(void *ctx, const struct http_request *req, struct http_response *resp);
void api_dump_core(void *ctx, const struct http_request *req, struct http_response *resp);
void api_console(void *ctx, const struct http_request *req, struct http_response *resp);
void api_console_input(void *ctx, const struct http_request *req, struct http_response *resp);
void api_events(void *ctx, const struct http_request *req, struct http_response *resp);
void api_log(void *ctx, const struct http_request *req, struct http_response *resp);
void api_metrics(void *ctx, const struct http_request *req, struct http_response *resp);
void api_daemon_info(void *ctx, const struct http_request *req, struct http_response *resp);
void api_save(void *ctx, const struct http_request *req, struct http_response *resp);
void api_snapshot(void *ctx, const struct http_request *req, struct http_response *resp);
void api_restore(void *ctx, const struct http_request *req, struct http_response *resp);
void api_clone(void *ctx, const struct http_request *req, struct http_response *resp);
/* The console relay (monitor.c's tick). */
void console_relay(struct daemon *dm);
void console_relay_one(struct daemon *dm, struct ddom *d);

#endif
