/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Watches through capsuled (docs/introspection.md): a watch armed with domain.watch fires
 * in the VMM, which tells its own vm.events stream. Before the first watch of a domain is
 * armed, capsuled opens that stream and relays each watch event as one of its own,
 * "watch-fired" (the VMM's line as the detail), on /api/v1/events and `capsule events`.
 * One relay thread a domain, from its first watch until its VMM ends (the stream ends).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capsule/api.h"
#include "capsule/httpc.h"
#include "daemon.h"

struct watch_relay {
	struct daemon *dm;
	int64_t id;
	int fd;
};

static void fired(struct watch_relay *w, const char *line)
{
	struct ddom *d;

	if (!strstr(line, "\"event\":\"watch\""))
		return;
	pthread_mutex_lock(&w->dm->lock);
	if ((d = dom_find_id(w->dm, w->id)))
		dom_event(w->dm, d, "watch-fired", "%s", line);
	pthread_mutex_unlock(&w->dm->lock);
}

static void *relay(void *arg)
{
	struct watch_relay *w = arg;
	char buf[8192];
	size_t have = 0;
	struct ddom *d;

	for (;;) {
		ssize_t k = read(w->fd, buf + have, sizeof(buf) - 1 - have);
		char *nl;

		if (k <= 0)
			break;
		have += (size_t)k;
		buf[have] = 0;
		while ((nl = strchr(buf, '\n'))) {
			*nl = 0;
			fired(w, buf);
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
		}
		if (have == sizeof(buf) - 1) /* a line longer than any event: drop it */
			have = 0;
	}
	pthread_mutex_lock(&w->dm->lock);
	if ((d = dom_find_id(w->dm, w->id)))
		d->watch_relay = false; /* the VMM ended: its next boot's first watch relays anew */
	pthread_mutex_unlock(&w->dm->lock);
	close(w->fd);
	free(w);
	return NULL;
}

void watch_relay_ensure(struct daemon *dm, const struct http_request *req)
{
	char key[128], sock[4200], err[256];
	struct watch_relay *w;
	struct ddom *d;
	pthread_attr_t attr;
	pthread_t t;
	int64_t id;

	pthread_mutex_lock(&dm->lock);
	d = query_get(req->query, "domain", key, sizeof(key)) ? dom_find(dm, key) : NULL;
	if (!d || d->watch_relay || d->pidfd < 0) { /* none, or relayed already: nothing */
		pthread_mutex_unlock(&dm->lock);
		return;
	}
	d->watch_relay = true;
	id = d->id;
	dom_path(dm, d, "api.sock", sock, sizeof(sock));
	pthread_mutex_unlock(&dm->lock);

	snprintf(err, sizeof(err), "out of memory");
	w = calloc(1, sizeof(*w));
	if (w && (w->fd = httpc_stream(sock, "/api/v1/vm.events", VMM_TIMEOUT_MS, err,
				       sizeof(err))) >= 0) {
		w->dm = dm;
		w->id = id;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (!pthread_create(&t, &attr, relay, w)) {
			pthread_attr_destroy(&attr);
			return;
		}
		pthread_attr_destroy(&attr);
		close(w->fd);
		snprintf(err, sizeof(err), "cannot start its thread");
	}
	free(w);
	fprintf(stderr, "capsuled: domain %s: its watch events are not relayed: %s\n", key, err);
	pthread_mutex_lock(&dm->lock);
	if ((d = dom_find_id(dm, id)))
		d->watch_relay = false;
	pthread_mutex_unlock(&dm->lock);
}
