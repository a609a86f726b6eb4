/* SPDX-License-Identifier: Apache-2.0 */
/* A TCP sender and receiver good enough for bulk transfers (guest/include/virtio.h says what
 * they do). */
#include "net_internal.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_RTO_NS 200000000ull
#define TCP_WSCALE 7                 /* ours: the window we advertise is 65535 << 7 */
#define TCP_INFLIGHT_MAX (8u << 20) /* bytes in flight at most, whatever the peer allows */

static bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* Queue one segment (not kicked): flags, seq, payload and SYN options. */
static int segment(struct tcp_conn *c, uint8_t flags, uint32_t seq, const uint8_t *payload,
		   uint32_t plen)
{
	static const uint8_t syn_opts[8] = {2, 4, 0x05, 0xb4, 1, 3, 3, TCP_WSCALE}; /* MSS 1460 */
	uint32_t olen = (flags & TCP_SYN) ? sizeof(syn_opts) : 0, tlen = 20 + olen + plen;
	struct virtio_net_hdr h = {0};
	uint8_t f[14 + 20 + 20 + sizeof(syn_opts)], *ip = f + 14, *th = f + 34;
	uint32_t sum;

	memcpy(f, c->peer_mac, 6), memcpy(f + 6, c->n->mac, 6), put16(f + 12, ETH_IP);
	ip_header(c->n, ip, 6, c->peer_ip, tlen);
	put16(th, c->sport), put16(th + 2, c->dport), put32(th + 4, seq);
	put32(th + 8, c->established || (flags & TCP_ACK) ? c->rcv_nxt : 0);
	th[12] = (uint8_t)(((20 + olen) / 4) << 4), th[13] = flags;
	put16(th + 14, 0xffff), put16(th + 16, 0), put16(th + 18, 0);
	memcpy(th + 20, syn_opts, olen);
	/* The pseudo-header: addresses, protocol, TCP length. */
	sum = csum_add(ip + 12, 8, 6 + tlen);
	if (vnet_has(c->n, VIRTIO_NET_F_CSUM)) {
		/* The device (the host kernel) completes it from csum_start over the segment. */
		put16(th + 16, (uint16_t)~csum_fold(sum));
		h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.csum_start = 34;
		h.csum_offset = 16;
	} else {
		put16(th + 16, csum_fold(csum_add(payload, plen, csum_add(th, 20 + olen, sum))));
	}
	if (plen > c->mss) {
		h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		h.gso_size = c->mss;
		h.hdr_len = (uint16_t)(34 + 20 + olen);
	}
	c->segments++;
	return vnet_queue(c->n, &h, f, 34 + 20 + olen, payload, plen);
}

static void parse_syn_options(struct tcp_conn *c, const uint8_t *o, uint32_t len)
{
	for (uint32_t i = 0; i < len && o[i] != 0;) {
		if (o[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len || o[i + 1] < 2 || i + o[i + 1] > len)
			return;
		if (o[i] == 2 && o[i + 1] == 4 && be16(o + i + 2) >= 536)
			c->mss = be16(o + i + 2) < c->mss ? be16(o + i + 2) : c->mss;
		if (o[i] == 3 && o[i + 1] == 3)
			c->peer_wscale = o[i + 2] > 14 ? 14 : o[i + 2];
		i += o[i + 1];
	}
}

/* One received frame: ours if it is this connection's TCP, else the stack's. */
static void input(struct tcp_conn *c, uint8_t *f, uint32_t len)
{
	static struct udp_msg m;
	uint32_t ihl, tot, doff, seq, ack, dlen;
	uint8_t *ip = f + 14, *th, flags;

	if (len < 54 || be16(f + 12) != ETH_IP || ip[9] != 6 ||
	    (be32(ip + 12) != c->peer_ip && !c->listening) || be32(ip + 16) != c->n->ip) {
		net_handle(c->n, f, len, &m);
		return;
	}
	ihl = (ip[0] & 15u) * 4, tot = be16(ip + 2), th = ip + ihl;
	if (ihl < 20 || tot < ihl + 20 || 14 + tot > len || be16(th + 2) != c->sport ||
	    (be16(th) != c->dport && !c->listening))
		return;
	doff = (th[12] >> 4) * 4u, flags = th[13], seq = be32(th + 4), ack = be32(th + 8);
	if (doff < 20 || ihl + doff > tot)
		return;
	dlen = tot - ihl - doff;
	if (flags & TCP_RST) {
		c->reset = !c->listening;
		return;
	}
	if (c->listening) { /* a SYN: answer it from our port, to whoever sent it */
		if ((flags & (TCP_SYN | TCP_ACK)) != TCP_SYN)
			return;
		c->peer_ip = be32(ip + 12), c->dport = be16(th);
		memcpy(c->peer_mac, f + 6, 6);
		parse_syn_options(c, th + 20, doff - 20);
		c->rcv_nxt = seq + 1;
		c->listening = false;
		segment(c, TCP_SYN | TCP_ACK, c->iss, NULL, 0);
		vnet_flush(c->n);
		c->last_progress = tsc_ns();
		return;
	}
	if (!c->established && c->passive) { /* the ACK of our SYN-ACK */
		if (!(flags & TCP_ACK) || ack != c->iss + 1 || (flags & TCP_SYN))
			return;
		c->snd_una = ack;
		c->snd_wnd = (uint32_t)be16(th + 14) << c->peer_wscale;
		c->established = true; /* and data may come with it: below */
	} else if (!c->established) {
		if ((flags & (TCP_SYN | TCP_ACK)) != (TCP_SYN | TCP_ACK) || ack != c->iss + 1)
			return;
		parse_syn_options(c, th + 20, doff - 20);
		c->rcv_nxt = seq + 1;
		c->snd_una = ack;
		c->snd_wnd = be16(th + 14); /* never scaled in a SYN */
		c->established = true;
		segment(c, TCP_ACK, c->snd_nxt, NULL, 0);
		vnet_flush(c->n);
		return;
	}
	if ((flags & TCP_ACK) && seq_lt(c->snd_una, ack) && !seq_lt(c->snd_nxt, ack)) {
		c->snd_una = ack;
		c->last_progress = tsc_ns();
	}
	if (flags & TCP_ACK)
		c->snd_wnd = (uint32_t)be16(th + 14) << c->peer_wscale;
	if ((dlen || (flags & TCP_FIN)) && seq == c->rcv_nxt) { /* in order: take it */
		c->rcv_nxt += dlen + ((flags & TCP_FIN) ? 1 : 0);
		if (dlen && c->on_data)
			c->on_data(c, th + doff, dlen);
		c->received += dlen;
		c->peer_fin |= (flags & TCP_FIN) != 0;
	}
	if (dlen || (flags & TCP_FIN)) /* acknowledge (again, if out of order): once a batch */
		c->ack_due = true;
}

/* Take every frame that is there; wait for one until `until` if none was. */
static void receive(struct tcp_conn *c, uint64_t until)
{
	static uint8_t frame[VNET_FRAME_MAX];
	uint32_t len = vnet_try_recv(c->n, frame, sizeof(frame));

	if (!len && until)
		len = vnet_recv(c->n, frame, sizeof(frame), until);
	while (len) {
		input(c, frame, len);
		len = vnet_try_recv(c->n, frame, sizeof(frame));
	}
	if (c->ack_due) /* one acknowledgement for every frame that batch brought */
		segment(c, TCP_ACK, c->snd_nxt, NULL, 0);
	c->ack_due = false;
	vnet_flush(c->n);
}

int tcp_connect(struct tcp_conn *c, struct vnet *n, uint32_t ip, const uint8_t mac[6],
		uint16_t sport, uint16_t dport, uint64_t deadline_ns)
{
	memset(c, 0, sizeof(*c));
	c->n = n, c->peer_ip = ip, c->sport = sport, c->dport = dport, c->mss = 1460;
	memcpy(c->peer_mac, mac, 6);
	c->iss = (uint32_t)tsc_ns() * 2654435761u;
	c->snd_una = c->iss, c->snd_nxt = c->iss + 1;
	c->tso = vnet_has(n, VIRTIO_NET_F_HOST_TSO4) && vnet_has(n, VIRTIO_NET_F_CSUM);
	while (!c->established && !c->reset && tsc_ns() < deadline_ns) {
		segment(c, TCP_SYN, c->iss, NULL, 0);
		vnet_flush(n);
		uint64_t retry = tsc_ns() + TCP_RTO_NS;

		while (!c->established && !c->reset && tsc_ns() < retry)
			receive(c, retry);
	}
	c->last_progress = tsc_ns();
	return c->established ? 0 : CAP_EBUSY;
}

int tcp_accept(struct tcp_conn *c, struct vnet *n, uint16_t port, uint64_t deadline_ns)
{
	memset(c, 0, sizeof(*c));
	c->n = n, c->sport = port, c->mss = 1460;
	c->listening = c->passive = true;
	c->iss = (uint32_t)tsc_ns() * 2654435761u;
	c->snd_una = c->iss, c->snd_nxt = c->iss + 1;
	c->tso = vnet_has(n, VIRTIO_NET_F_HOST_TSO4) && vnet_has(n, VIRTIO_NET_F_CSUM);
	while (!c->established && tsc_ns() < deadline_ns) {
		uint64_t rto = tsc_ns() + TCP_RTO_NS;

		receive(c, rto < deadline_ns ? rto : deadline_ns);
		if (!c->listening && !c->established && tsc_ns() - c->last_progress > TCP_RTO_NS) {
			segment(c, TCP_SYN | TCP_ACK, c->iss, NULL, 0); /* the SYN-ACK was lost */
			vnet_flush(n);
			c->last_progress = tsc_ns();
		}
	}
	c->last_progress = tsc_ns();
	return c->established ? 0 : CAP_EBUSY;
}

int tcp_recv_stream(struct tcp_conn *c, uint64_t total, uint64_t deadline_ns)
{
	while (c->received < total && !c->peer_fin && !c->reset && tsc_ns() < deadline_ns)
		receive(c, deadline_ns);
	return c->received >= total ? 0 : CAP_EBUSY;
}

int tcp_send_stream(struct tcp_conn *c, const uint8_t *data, uint32_t period, uint64_t total,
		    uint64_t deadline_ns)
{
	const uint32_t start = c->snd_nxt, end = start + (uint32_t)total;
	const uint32_t tso_max = (65535u - 40u) / c->mss * c->mss;

	c->last_progress = tsc_ns();
	while (c->snd_una != end && !c->reset) {
		unsigned room = vnet_tx_room(c->n);
		uint64_t now;

		while (room && seq_lt(c->snd_nxt, end)) {
			uint32_t wnd = c->snd_wnd < TCP_INFLIGHT_MAX ? c->snd_wnd : TCP_INFLIGHT_MAX;
			uint32_t inflight = c->snd_nxt - c->snd_una, left = end - c->snd_nxt;
			uint32_t len = c->tso ? tso_max : c->mss;

			if (inflight >= wnd)
				break;
			len = len < left ? len : left;
			len = len < wnd - inflight ? len : wnd - inflight;
			if (len < c->mss && len < left && inflight) /* no silly segments */
				break;
			if (segment(c, TCP_ACK | TCP_PSH, c->snd_nxt,
				    data + (c->snd_nxt - start) % period, len))
				break;
			c->snd_nxt += len;
			room--;
		}
		vnet_flush(c->n);
		now = tsc_ns();
		if (now >= deadline_ns)
			return CAP_EBUSY;
		if (now - c->last_progress > TCP_RTO_NS) { /* lost: from the first unacked byte */
			c->snd_nxt = c->snd_una;
			c->retransmits++;
			c->last_progress = now;
			continue;
		}
		/* Wait for acknowledgements only when nothing more may be sent. */
		receive(c, room && seq_lt(c->snd_nxt, end) &&
				   c->snd_nxt - c->snd_una < c->snd_wnd
			   ? 0
			   : c->last_progress + TCP_RTO_NS);
	}
	return c->reset ? CAP_EBUSY : 0;
}

int tcp_close(struct tcp_conn *c, uint64_t deadline_ns)
{
	uint32_t fin = c->snd_nxt;

	c->snd_nxt = fin + 1;
	while (c->snd_una != c->snd_nxt && !c->reset && tsc_ns() < deadline_ns) {
		uint64_t retry = tsc_ns() + TCP_RTO_NS;

		segment(c, TCP_FIN | TCP_ACK, fin, NULL, 0);
		vnet_flush(c->n);
		while (c->snd_una != c->snd_nxt && !c->reset && tsc_ns() < retry)
			receive(c, retry);
	}
	return c->snd_una == c->snd_nxt ? 0 : CAP_EBUSY;
}
