/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streaming responses: api_stream_send, from any thread, formats a line once as a chunk
 * and queues it under the server's lock (bounded: STREAM_QUEUE_MAX bytes), then wakes the
 * loop through an eventfd. On the loop, every queued line goes to every streaming
 * connection's output buffer; a client that lets HTTP_MAX_STREAM_BUFFER pile up is
 * dropped rather than let a stalled reader hold memory or slow the others.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capsule/log.h"
#include "server.h"

int stream_chunk(struct conn *c, const char *data, size_t n)
{
	bool nl = !n || data[n - 1] != '\n'; /* every event is a line */
	char hex[24];
	int h = snprintf(hex, sizeof(hex), "%zx\r\n", n + nl);

	if (c->chunked && conn_append(c, hex, (size_t)h))
		return -ENOMEM;
	if (conn_append(c, data, n) || (nl && conn_append(c, "\n", 1)) ||
	    (c->chunked && conn_append(c, "\r\n", 2)))
		return -ENOMEM;
	return 0;
}

int api_stream_send(struct api_server *s, const char *line)
{
	return api_stream_send_topic(s, 0, line);
}

unsigned api_stream_watchers(struct api_server *s, uint64_t topic)
{
	unsigned n = 0;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->max_clients; i++)
		if (s->conns[i].topic == topic + 1) /* +1: 0 is no stream */
			n++;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int api_stream_send_topic(struct api_server *s, uint64_t topic, const char *line)
{
	size_t n = strlen(line), data_len = n + (n && line[n - 1] == '\n' ? 0 : 1);
	uint64_t one = 1;
	struct stream_line *m;
	char hex[24];
	int h = snprintf(hex, sizeof(hex), "%zx\r\n", data_len), rc = 0;

	if (data_len > HTTP_MAX_BODY)
		return -EMSGSIZE;
	if (!(m = malloc(sizeof(*m) + (size_t)h + data_len + 2)))
		return -ENOMEM;
	m->next = NULL;
	m->topic = topic;
	m->data_off = (size_t)h;
	m->data_len = data_len;
	m->len = (size_t)h + data_len + 2;
	memcpy(m->bytes, hex, (size_t)h);
	memcpy(m->bytes + h, line, n);
	m->bytes[(size_t)h + data_len - 1] = '\n';
	memcpy(m->bytes + h + data_len, "\r\n", 2);
	pthread_mutex_lock(&s->lock);
	if (s->queued + m->len > STREAM_QUEUE_MAX) {
		rc = -ENOBUFS;
	} else {
		*s->queue_tail = m;
		s->queue_tail = &m->next;
		s->queued += m->len;
	}
	pthread_mutex_unlock(&s->lock);
	if (rc) {
		free(m);
		return rc;
	}
	if (write(s->wake_src.fd, &one, sizeof(one)) < 0)
		return 0; /* the counter is full: a wake-up is pending anyway */
	return 0;
}

static void deliver(struct api_server *s, const struct stream_line *m)
{
	for (unsigned i = 0; i < s->max_clients; i++) {
		struct conn *c = &s->conns[i];
		size_t n = c->chunked ? m->len : m->data_len;

		if (c->src.fd < 0 || !c->streaming || c->closing || c->topic != m->topic + 1)
			continue;
		if (conn_pending(c) + n > HTTP_MAX_STREAM_BUFFER ||
		    conn_append(c, c->chunked ? m->bytes : m->bytes + m->data_off, n)) {
			log_debug("api: dropping an event stream client %zu bytes behind",
				  conn_pending(c));
			conn_close(c);
		}
	}
}

void stream_ready(struct loop *l, struct loop_source *src, uint32_t events)
{
	struct api_server *s = src->opaque;
	struct stream_line *list, *m;
	uint64_t count;

	(void)l, (void)events;
	if (read(src->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_debug("api: cannot read the stream eventfd");
	pthread_mutex_lock(&s->lock);
	list = s->queue;
	s->queue = NULL;
	s->queue_tail = &s->queue;
	s->queued = 0;
	pthread_mutex_unlock(&s->lock);
	for (m = list; m; m = m->next)
		deliver(s, m);
	while (list) {
		m = list;
		list = m->next;
		free(m);
	}
	for (unsigned i = 0; i < s->max_clients; i++)
		if (s->conns[i].src.fd >= 0 && s->conns[i].streaming)
			conn_pump(&s->conns[i]);
}

/* At stop: the last chunk to every stream, best effort (the loop is gone). */
void stream_end_all(struct api_server *s)
{
	for (unsigned i = 0; i < s->max_clients; i++) {
		struct conn *c = &s->conns[i];

		if (c->src.fd >= 0 && c->streaming && c->chunked && !conn_append(c, "0\r\n\r\n", 5))
			c->closing = true;
		if (c->src.fd >= 0 && c->streaming)
			conn_pump(c);
	}
}
