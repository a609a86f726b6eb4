/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest kit: virtio drivers over virtio-mmio, for PV guests. Devices are found in
 * start_info's device list; each interrupts through its own event channel. Drivers poll the
 * used rings and block on the event channel when there is nothing to do.
 */
#ifndef CAPSULE_KIT_VIRTIO_H
#define CAPSULE_KIT_VIRTIO_H

#include "capsule/virtio_abi.h"
#include "kit.h"

struct vdev {
	volatile uint8_t *base;
	uint32_t type;
	int port; /* PV: the event channel the device raises; HVM: its GSI */
	uint64_t features;
};

struct vq {
	struct vdev *dev;
	unsigned index;
	uint16_t size, free_head, num_free, last_used, avail_idx, kicked_idx;
	bool event_idx;
	bool no_irq; /* completions are reaped by polling: no interrupt unless vq_wait asks */
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	void **cookie;
	uint16_t *chain_len;
};

struct vbuf {
	const void *addr;
	uint32_t len;
	bool write; /* the device writes it */
};

uint32_t vdev_read(struct vdev *d, uint32_t off);
void vdev_write(struct vdev *d, uint32_t off, uint32_t v);
/* The nth device of this type: 0, or CAP_ENOENT (PV: from start_info). */
int vdev_find(uint32_t type, unsigned nth, struct vdev *d);
/* The device at an MMIO address: 0, or CAP_EINVAL if it is not that device. */
int vdev_at(struct vdev *d, uint64_t base, int port, uint32_t type);
/* Sleep until the device may have signalled, or the deadline: 0 at the deadline. */
int vdev_wait(struct vdev *d, uint64_t deadline_ns);
/* Reset and negotiate; features offered & wanted (VERSION_1 always). 0 or CAP_EINVAL. */
int vdev_begin(struct vdev *d, uint64_t wanted);
int vq_setup(struct vdev *d, struct vq *q, unsigned index, uint16_t size);
void vdev_ready(struct vdev *d);
bool vdev_needs_reset(struct vdev *d);

/* Queue a chain (readable buffers first); the head, or CAP_ENOSPC. Publishes, no kick. */
int vq_add(struct vq *q, const struct vbuf *bufs, unsigned n, void *cookie);
/* Tell the device (only if it asked to be told, with event idx). */
void vq_kick(struct vq *q);
/* A completed chain's cookie (and bytes written), or NULL if none. */
void *vq_poll(struct vq *q, uint32_t *len);
/* Like vq_poll, blocking on the device's event channel until the deadline (0: none). */
void *vq_wait(struct vq *q, uint32_t *len, uint64_t deadline_ns);

/* virtio-blk */
#define VBLK_MAX_QUEUES 4
struct vblk {
	struct vdev dev;
	struct vq q;                          /* queue 0 */
	struct vq more[VBLK_MAX_QUEUES - 1];  /* queues 1.. with VIRTIO_BLK_F_MQ */
	unsigned nqueues;
	uint64_t sectors;
	bool readonly;
	bool poll; /* wait by spinning on the used ring instead of blocking (benchmarks) */
};
struct vblk_req {
	struct virtio_blk_req_hdr hdr;
	void *data;
	uint32_t len;
	volatile uint8_t status;
	bool done;
};
int vblk_open(struct vblk *b, unsigned nth);
/* With up to `queues` queues (VIRTIO_BLK_F_MQ if the device offers it): b->nqueues. */
int vblk_open_mq(struct vblk *b, unsigned nth, unsigned queues);
/* Queue i (0 .. nqueues - 1). */
struct vq *vblk_queue(struct vblk *b, unsigned i);
/* vblk_submit on queue i. */
int vblk_submit_on(struct vblk *b, unsigned i, struct vblk_req *r, uint32_t type,
		   uint64_t sector, void *data, uint32_t len);
/* Queue a request (no kick): type VIRTIO_BLK_T_*. CAP_ENOSPC if the queue is full. */
int vblk_submit(struct vblk *b, struct vblk_req *r, uint32_t type, uint64_t sector, void *data,
		uint32_t len);
/* Wait for every submitted request to complete (on every queue). */
void vblk_wait_all(struct vblk *b);
/* One request, synchronously: its status. */
int vblk_io(struct vblk *b, uint32_t type, uint64_t sector, void *data, uint32_t len);

/* virtio-rng */
int vrng_read(struct vq *q, void *buf, uint32_t len);

/* virtio-console */
struct vcons {
	struct vdev dev;
	struct vq rx, tx;
	uint8_t rxbuf[8][256];
};
int vcons_open(struct vcons *c);
void vcons_write(struct vcons *c, const void *buf, uint32_t len);
/* Bytes received (up to cap), 0 at the deadline. */
uint32_t vcons_read(struct vcons *c, void *buf, uint32_t cap, uint64_t deadline_ns);

/* virtio-net, with a tiny IPv4 stack (ARP, ICMP echo, UDP, a TCP sender) in netstack.c */
#define VNET_RXBUFS 64
#define VNET_RXBUF_SIZE 2048
#define VNET_TXBUFS 64 /* = the transmit queue size: a buffer is reused only once sent */
#define VNET_FRAME_MAX 65550 /* a GSO packet with its headers */
/* What vnet_open takes: offloads (checksum, TSO, UFO) and mergeable receive buffers. */
#define VNET_OFFLOADS                                                                     \
	((1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) |                  \
	 (1ull << VIRTIO_NET_F_HOST_TSO4) | (1ull << VIRTIO_NET_F_HOST_TSO6) |              \
	 (1ull << VIRTIO_NET_F_HOST_UFO) | (1ull << VIRTIO_NET_F_GUEST_TSO4) |             \
	 (1ull << VIRTIO_NET_F_GUEST_TSO6) | (1ull << VIRTIO_NET_F_GUEST_UFO))
struct vnet {
	struct vdev dev;
	struct vq rx, tx;
	uint8_t mac[6];
	uint8_t (*rxbufs)[VNET_RXBUF_SIZE];
	uint8_t txbuf[VNET_TXBUFS][VNET_RXBUF_SIZE];
	unsigned tx_next;
	uint32_t ip;   /* host byte order */
	bool tx_pending; /* queued, not yet kicked */
	struct virtio_net_hdr rx_hdr; /* the last received frame's header */
	uint32_t rx_max_frame, rx_max_bufs; /* the largest frame received, most buffers one took */
};
int vnet_open(struct vnet *n, uint32_t ip);
/* With a choice of device features (VNET_OFFLOADS or 0, beyond MAC and mergeable buffers). */
int vnet_open_ex(struct vnet *n, uint32_t ip, uint64_t offloads);
/* Queue pairs (VIRTIO_NET_F_MQ with its control queue): n[i] drives pair i, all of them in
 * use once the device acknowledged VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET. Each pair's receive
 * completions raise the device's one event channel (vCPU 0's): other vCPUs poll. */
int vnet_open_pairs(struct vnet *n, unsigned pairs, uint32_t ip, uint64_t offloads);
bool vnet_has(const struct vnet *n, unsigned feature);
int vnet_send(struct vnet *n, const void *frame, uint32_t len);
/*
 * Queue one frame without telling the device: header h, `hlen` bytes of headers (copied)
 * then `plen` bytes of payload, which must stay unchanged until the device has sent it
 * (vnet_tx_room reaps). CAP_ENOSPC when the ring is full. vnet_flush kicks once for all.
 */
int vnet_queue(struct vnet *n, const struct virtio_net_hdr *h, const void *hdrs, uint32_t hlen,
	       const void *payload, uint32_t plen);
void vnet_flush(struct vnet *n);
/* Reap what the device sent; the frames that may be queued now. */
unsigned vnet_tx_room(struct vnet *n);
/* One frame into buf (merged from its buffers); its length, 0 at the deadline. */
uint32_t vnet_recv(struct vnet *n, void *buf, uint32_t cap, uint64_t deadline_ns);
/* The same without waiting: 0 if no frame is there. */
uint32_t vnet_try_recv(struct vnet *n, void *buf, uint32_t cap);

struct udp_msg {
	uint32_t src_ip;
	uint16_t src_port, dst_port;
	uint32_t len;
	uint8_t data[1500];
};
/* Handle frames (answer ARP and ping) until a UDP datagram arrives or the deadline. */
int net_poll_udp(struct vnet *n, struct udp_msg *m, uint64_t deadline_ns);
int net_send_udp(struct vnet *n, uint32_t dst_ip, const uint8_t dst_mac[6], uint16_t src_port,
		 uint16_t dst_port, const void *data, uint32_t len);
/* Handle one received frame: ARP and ICMP answered; 1 and *m if it is UDP for us. */
int net_handle(struct vnet *n, uint8_t *frame, uint32_t len, struct udp_msg *m);
/* ARP for an address: 0 and its MAC, or CAP_ENOENT at the deadline. */
int net_resolve(struct vnet *n, uint32_t ip, uint8_t mac[6], uint64_t deadline_ns);
uint32_t ip_parse(const char *s);

/*
 * A TCP sender over IPv4 (tcp.c), enough for bulk transfers: active open with MSS and
 * window scaling, segments of up to 64 KiB handed to the device as TSO (partial checksum,
 * VIRTIO_NET_HDR_GSO_TCPV4) when it took HOST_TSO4, else MSS-sized with full checksums;
 * the peer's window is respected, and a segment not acknowledged in 200 ms is sent again
 * from the first unacknowledged byte (go-back-N). In-order data from the peer is
 * acknowledged and counted; tcp_accept and tcp_recv_stream make a receiver of it for a bulk
 * transfer towards the guest (out-of-order data is dropped and acknowledged again).
 */
struct tcp_conn {
	struct vnet *n;
	uint32_t peer_ip;
	uint8_t peer_mac[6];
	uint16_t sport, dport, mss;
	uint8_t peer_wscale;
	bool tso, established, peer_fin, reset;
	bool listening, passive; /* tcp_accept: waiting for a SYN; opened by the peer */
	bool ack_due;            /* data came: acknowledge at the end of the batch */
	/* Optional: each in-order piece of data received (a receiver checks it here). */
	void (*on_data)(struct tcp_conn *c, const uint8_t *data, uint32_t len);
	void *opaque;
	uint32_t iss, snd_una, snd_nxt, snd_wnd, rcv_nxt;
	uint64_t retransmits, segments, received;
	uint64_t last_progress; /* tsc_ns of the last acknowledgement that moved snd_una */
};
int tcp_connect(struct tcp_conn *c, struct vnet *n, uint32_t ip, const uint8_t mac[6],
		uint16_t sport, uint16_t dport, uint64_t deadline_ns);
/* Send `total` bytes, byte i of the stream being data[i % period] (data holds period +
 * 65536 bytes, so any segment is contiguous in it). 0, or CAP_EBUSY at the deadline or on
 * a reset. */
int tcp_send_stream(struct tcp_conn *c, const uint8_t *data, uint32_t period, uint64_t total,
		    uint64_t deadline_ns);
/* Wait for a connection to `port` from anyone: 0 once established, or CAP_EBUSY. */
int tcp_accept(struct tcp_conn *c, struct vnet *n, uint16_t port, uint64_t deadline_ns);
/* Take in-order data (acknowledging every frame) until `total` bytes came or the peer
 * closed: 0 once total came, or CAP_EBUSY. */
int tcp_recv_stream(struct tcp_conn *c, uint64_t total, uint64_t deadline_ns);
/* FIN, and wait for it to be acknowledged: 0 or CAP_EBUSY. */
int tcp_close(struct tcp_conn *c, uint64_t deadline_ns);

/* virtio-balloon */
struct vballoon {
	struct vdev dev;
	struct vq inflate, deflate, stats, report;
	bool reporting; /* VIRTIO_BALLOON_F_PAGE_REPORTING negotiated */
	uint32_t *pfns;     /* pages held by the balloon */
	uint32_t held, cap;
	struct virtio_balloon_stat stat[VIRTIO_BALLOON_S_NR];
};
int vballoon_open(struct vballoon *b);
/* Move towards the device's target; the number of pages now held. */
uint32_t vballoon_update(struct vballoon *b);
uint32_t vballoon_target(struct vballoon *b);
/* Answer a statistics request if the device made one. */
void vballoon_stats(struct vballoon *b, uint64_t free_bytes, uint64_t total_bytes);
/* Free page reporting: tell the host n free pages (it releases them; they stay ours and read
 * zero when next used). 0, or CAP_EINVAL if the device does not take reports. */
int vballoon_report(struct vballoon *b, void *const *pages, unsigned n);

#endif
