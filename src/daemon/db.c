/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsuled's database (SQLite, state_dir/capsuled.db): WAL with synchronous=FULL, so a
 * committed change survives a crash of the daemon or the host, and a transaction cut by
 * a kill -9 leaves nothing. The schema is versioned with PRAGMA user_version: migrations[i]
 * takes it from version i to i + 1, each in its own transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capsule/log.h"
#include "daemon.h"

static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE domains ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT NOT NULL UNIQUE,"
	" name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, config TEXT NOT NULL,"
	" mem_mib INTEGER NOT NULL, vcpus INTEGER NOT NULL, state TEXT NOT NULL,"
	" pid INTEGER NOT NULL DEFAULT 0, pid_start INTEGER NOT NULL DEFAULT 0,"
	" api_sock TEXT NOT NULL, created_at INTEGER NOT NULL, started_at INTEGER NOT NULL,"
	" ended_at INTEGER NOT NULL DEFAULT 0, exit_status INTEGER NOT NULL DEFAULT -1,"
	" exit_reason TEXT NOT NULL DEFAULT '', restarts INTEGER NOT NULL DEFAULT 0,"
	" on_poweroff TEXT NOT NULL, on_reboot TEXT NOT NULL, on_crash TEXT NOT NULL);"
	"CREATE TABLE events ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT, time_ns INTEGER NOT NULL,"
	" domain_id INTEGER NOT NULL, domain TEXT NOT NULL, event TEXT NOT NULL,"
	" detail TEXT NOT NULL, uid INTEGER NOT NULL);"
	"CREATE INDEX events_domain ON events(domain_id, seq);",
	/* 1 -> 2: the snapshot directory a domain was restored from, and saved to */
	"ALTER TABLE domains ADD COLUMN restored_from TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE domains ADD COLUMN saved_to TEXT NOT NULL DEFAULT '';",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))
#define EVENTS_KEPT 20000 /* the history stays bounded */

static int exec(struct daemon *dm, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(dm->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		fprintf(stderr, "capsuled: database: %s\n", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

int db_begin(struct daemon *dm)
{
	return exec(dm, "BEGIN IMMEDIATE");
}

int db_commit(struct daemon *dm)
{
	return exec(dm, "COMMIT");
}

void db_rollback(struct daemon *dm)
{
	sqlite3_exec(dm->db, "ROLLBACK", NULL, NULL, NULL);
}

static int user_version(struct daemon *dm)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(dm->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

int db_open(struct daemon *dm, char *err, size_t errlen)
{
	char path[4200], sql[64];
	int v;

	snprintf(path, sizeof(path), "%s/capsuled.db", dm->state_dir);
	if (sqlite3_open_v2(path, &dm->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					       SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open the database %s: %s", path,
			 dm->db ? sqlite3_errmsg(dm->db) : "out of memory");
		return -1;
	}
	sqlite3_busy_timeout(dm->db, 5000);
	if (exec(dm, "PRAGMA journal_mode=WAL") || exec(dm, "PRAGMA synchronous=FULL") ||
	    exec(dm, "PRAGMA foreign_keys=ON")) {
		snprintf(err, errlen, "cannot set up the database %s", path);
		return -1;
	}
	if ((v = user_version(dm)) < 0 || v > SCHEMA_VERSION) {
		snprintf(err, errlen, "the database %s has schema version %d; this capsuled knows "
			 "up to %d (a newer capsuled wrote it)", path, v, SCHEMA_VERSION);
		return -1;
	}
	for (; v < SCHEMA_VERSION; v++) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", v + 1);
		if (db_begin(dm) || exec(dm, migrations[v]) || exec(dm, sql) || db_commit(dm)) {
			db_rollback(dm);
			snprintf(err, errlen, "cannot migrate the database %s to version %d", path,
				 v + 1);
			return -1;
		}
	}
	return 0;
}

void db_close(struct daemon *dm)
{
	sqlite3_close(dm->db);
	dm->db = NULL;
}

static int step_done(struct daemon *dm, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "capsuled: database: %s\n", sqlite3_errmsg(dm->db));
		return -EIO;
	}
	return 0;
}

int db_insert_domain(struct daemon *dm, struct ddom *d, const char *config)
{
	static const char sql[] =
		"INSERT INTO domains (uuid, name, kind, config, mem_mib, vcpus, state, pid, "
		"pid_start, api_sock, created_at, started_at, on_poweroff, on_reboot, on_crash) "
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt *st;
	char sock[4200];
	int rc;

	if (sqlite3_prepare_v2(dm->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	dom_path(dm, d, "api.sock", sock, sizeof(sock));
	sqlite3_bind_text(st, 1, d->uuid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, d->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, d->kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, config, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 5, (int)d->mem_mib);
	sqlite3_bind_int(st, 6, (int)d->vcpus);
	sqlite3_bind_text(st, 7, dstate_name(d->state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, d->pid);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)d->pid_start);
	sqlite3_bind_text(st, 10, sock, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 11, d->created_at);
	sqlite3_bind_int64(st, 12, d->started_at);
	sqlite3_bind_text(st, 13, d->on_poweroff, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 14, d->on_reboot, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 15, d->on_crash, -1, SQLITE_TRANSIENT);
	if ((rc = step_done(dm, st)))
		return rc;
	d->id = sqlite3_last_insert_rowid(dm->db);
	return 0;
}

int db_update_domain(struct daemon *dm, const struct ddom *d)
{
	static const char sql[] =
		"UPDATE domains SET state = ?, pid = ?, pid_start = ?, started_at = ?, "
		"ended_at = ?, exit_status = ?, exit_reason = ?, restarts = ?, mem_mib = ? "
		"WHERE id = ?";
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(dm->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, dstate_name(d->state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, d->pid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)d->pid_start);
	sqlite3_bind_int64(st, 4, d->started_at);
	sqlite3_bind_int64(st, 5, d->ended_at);
	sqlite3_bind_int(st, 6, d->exit_status);
	sqlite3_bind_text(st, 7, d->exit_reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 8, (int)d->restarts);
	sqlite3_bind_int(st, 9, (int)d->mem_mib);
	sqlite3_bind_int64(st, 10, d->id);
	return step_done(dm, st);
}

int db_delete_domain(struct daemon *dm, int64_t id)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(dm->db, "DELETE FROM events WHERE domain_id = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = step_done(dm, st)))
		return rc;
	if (sqlite3_prepare_v2(dm->db, "DELETE FROM domains WHERE id = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	return step_done(dm, st);
}

char *db_domain_config(struct daemon *dm, int64_t id)
{
	sqlite3_stmt *st;
	char *out = NULL;

	if (sqlite3_prepare_v2(dm->db, "SELECT config FROM domains WHERE id = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		out = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

int db_set_domain_config(struct daemon *dm, int64_t id, const char *config)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(dm->db, "UPDATE domains SET config = ? WHERE id = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, config, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, id);
	return step_done(dm, st);
}

static enum dstate parse_state(const char *s)
{
	static const char *const names[] = {"running", "paused", "shutoff", "crashed", "dying"};

	for (unsigned i = 0; i < 5; i++)
		if (s && !strcmp(s, names[i]))
			return (enum dstate)i;
	return DS_CRASHED; /* a row we cannot read is no domain we can vouch for */
}

static void copy_col(sqlite3_stmt *st, int col, char *out, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(out, len, "%s", t ? (const char *)t : "");
}

/* The form capsuled gives a UUID (8-4-4-4-12 lowercase hex): a row's UUID names files, so
 * one from a damaged or edited database that is anything else must never reach a path. */
static bool uuid_valid(const char *u)
{
	for (unsigned i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? u[i] != '-' : !strchr("0123456789abcdef", u[i]) || !u[i])
			return false;
	}
	return u[36] == 0;
}

int db_load_domains(struct daemon *dm)
{
	static const char sql[] =
		"SELECT id, uuid, name, kind, mem_mib, vcpus, state, pid, pid_start, created_at, "
		"started_at, ended_at, exit_status, exit_reason, restarts, on_poweroff, "
		"on_reboot, on_crash FROM domains ORDER BY id";
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(dm->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ddom *d = calloc(1, sizeof(*d));
		char state[16];

		if (!d)
			break;
		d->id = sqlite3_column_int64(st, 0);
		copy_col(st, 1, d->uuid, sizeof(d->uuid));
		if (!uuid_valid(d->uuid)) {
			log_err("the database has domain %lld with a malformed UUID; leaving it alone",
				(long long)d->id);
			free(d);
			continue;
		}
		copy_col(st, 2, d->name, sizeof(d->name));
		copy_col(st, 3, d->kind, sizeof(d->kind));
		d->mem_mib = (unsigned)sqlite3_column_int(st, 4);
		d->vcpus = (unsigned)sqlite3_column_int(st, 5);
		copy_col(st, 6, state, sizeof(state));
		d->state = parse_state(state);
		d->pid = (pid_t)sqlite3_column_int64(st, 7);
		d->pid_start = (uint64_t)sqlite3_column_int64(st, 8);
		d->created_at = sqlite3_column_int64(st, 9);
		d->started_at = sqlite3_column_int64(st, 10);
		d->ended_at = sqlite3_column_int64(st, 11);
		d->exit_status = sqlite3_column_int(st, 12);
		copy_col(st, 13, d->exit_reason, sizeof(d->exit_reason));
		d->restarts = (unsigned)sqlite3_column_int(st, 14);
		copy_col(st, 15, d->on_poweroff, sizeof(d->on_poweroff));
		copy_col(st, 16, d->on_reboot, sizeof(d->on_reboot));
		copy_col(st, 17, d->on_crash, sizeof(d->on_crash));
		d->pidfd = d->con_in = -1;
		if (dom_add(dm, d)) {
			free(d);
			break;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int db_add_event(struct daemon *dm, const struct ddom *d, const char *event, const char *detail,
		 uint32_t uid, char *line, size_t linelen)
{
	struct timespec ts;
	sqlite3_stmt *st;
	json_t *j;
	char *text;
	int64_t now;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = ts.tv_sec * 1000000000ll + ts.tv_nsec;
	if (sqlite3_prepare_v2(dm->db, "INSERT INTO events (time_ns, domain_id, domain, event, "
			       "detail, uid) VALUES (?, ?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, d->id);
	sqlite3_bind_text(st, 3, d->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, event, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, detail, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 6, uid);
	if ((rc = step_done(dm, st)))
		return rc;
	if (sqlite3_last_insert_rowid(dm->db) % 1000 == 0) {
		char sql[128];

		snprintf(sql, sizeof(sql), "DELETE FROM events WHERE seq <= %lld",
			 (long long)sqlite3_last_insert_rowid(dm->db) - EVENTS_KEPT);
		exec(dm, sql);
	}
	j = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:I}", "time_ns", (json_int_t)now, "id",
		      (json_int_t)d->id, "domain", d->name, "uuid", d->uuid, "event", event,
		      "detail", detail, "uid", (json_int_t)uid);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	snprintf(line, linelen, "%s", text ? text : "");
	free(text);
	json_decref(j);
	return 0;
}

json_t *db_events(struct daemon *dm, int64_t id, unsigned n)
{
	sqlite3_stmt *st;
	json_t *arr = json_array();
	const char *sql = id >= 0
		? "SELECT * FROM (SELECT seq, time_ns, domain_id, domain, event, detail, uid FROM "
		  "events WHERE domain_id = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq"
		: "SELECT * FROM (SELECT seq, time_ns, domain_id, domain, event, detail, uid FROM "
		  "events WHERE ? < 0 ORDER BY seq DESC LIMIT ?) ORDER BY seq";

	if (sqlite3_prepare_v2(dm->db, sql, -1, &st, NULL) != SQLITE_OK)
		return arr;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, (int)n);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(
			arr, json_pack("{s:I, s:I, s:s?, s:s?, s:s?, s:I}", "time_ns",
				       (json_int_t)sqlite3_column_int64(st, 1), "id",
				       (json_int_t)sqlite3_column_int64(st, 2), "domain",
				       (const char *)sqlite3_column_text(st, 3), "event",
				       (const char *)sqlite3_column_text(st, 4), "detail",
				       (const char *)sqlite3_column_text(st, 5), "uid",
				       (json_int_t)sqlite3_column_int64(st, 6)));
	sqlite3_finalize(st);
	return arr;
}

long db_count(struct daemon *dm, const char *table)
{
	char sql[64];
	sqlite3_stmt *st;
	long n = -1;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	if (sqlite3_prepare_v2(dm->db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

int db_set_snapshot(struct daemon *dm, int64_t id, const char *col, const char *dir)
{
	sqlite3_stmt *st;
	const char *sql = !strcmp(col, "saved_to")
		? "UPDATE domains SET saved_to = ? WHERE id = ?"
		: "UPDATE domains SET restored_from = ? WHERE id = ?";

	if (sqlite3_prepare_v2(dm->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, dir, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, id);
	return step_done(dm, st);
}

void db_snapshot_fields(struct daemon *dm, int64_t id, json_t *out)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(dm->db, "SELECT restored_from, saved_to FROM domains WHERE id = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		for (int i = 0; i < 2; i++) {
			const char *v = (const char *)sqlite3_column_text(st, i);

			json_object_set_new(out, i ? "saved_to" : "restored_from",
					    v && *v ? json_string(v) : json_null());
		}
	sqlite3_finalize(st);
}
