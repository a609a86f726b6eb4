/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio devices and their host backends. Each device is a const virtio_dev_ops plus
 * private state set up from its command-line option; `capsule run --help` lists them.
 */
#ifndef CAPSULE_DEVICES_H
#define CAPSULE_DEVICES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "capsule/virtio.h"

extern const struct virtio_dev_ops virtio_rng_ops;
extern const struct virtio_dev_ops virtio_blk_ops;
extern const struct virtio_dev_ops virtio_console_ops;
extern const struct virtio_dev_ops virtio_balloon_ops;
extern const struct virtio_dev_ops virtio_net_ops;
extern const struct virtio_dev_ops virtio_net_mq_ops;

/* ---- block: a raw image file ---- */
/* Queues a disk may offer (`queues=`, VIRTIO_BLK_F_MQ). */
#define VIRTIO_BLK_MAX_QUEUES 4
_Static_assert(VIRTIO_BLK_MAX_QUEUES <= VIRTIO_MAX_QUEUES, "a disk's queues fit a device");
struct blk_backend;
/* Parse "PATH[,readonly][,serial=ID][,direct=on|off][,queues=N]"; opens the file. NULL with
 * a message in err. */
struct blk_backend *blk_open(const char *spec, char *err, size_t errlen);
void blk_close(struct blk_backend *b);
/* Accounting (docs/resources.md): what a backend moved in its life, across reboots. For a
 * disk, rd = reads and wr = writes that succeeded; for a NIC, rd = frames received (host
 * to guest) and wr = frames sent (guest to host). Bytes are payload, not headers. */
struct dev_io {
	uint64_t rd_bytes, wr_bytes, rd_reqs, wr_reqs;
};
void blk_io(const struct blk_backend *b, struct dev_io *out);
/* A migration hands a writable image to its destination (same path, shared storage):
 * release (true) drops the image's lock while the paused source keeps it open; false
 * takes it back (the migration failed). 0, or -errno (another process took it). */
int blk_hand_over(struct blk_backend *b, bool release);
void blk_init_config(struct blk_backend *b, struct virtio_dev *d);
/* Tests: submit one request of this io_uring opcode on the disk's ring; its result (the
 * restricted ring refuses anything but readv, writev and fsync with -EACCES). */
int blk_ring_try_op(struct blk_backend *b, uint8_t opcode);

/* The parsed form of one block request: what the fuzzer and the unit tests check. */
struct blk_request {
	uint32_t type;
	uint64_t sector;
	uint64_t data_off;  /* where data starts in the chain (after the header) */
	uint64_t data_len;  /* bytes of data (readable for writes, writable for reads) */
	uint8_t *status;    /* last writable byte of the chain */
};
/* 0, or -EINVAL if the chain cannot be a block request (no header, no status byte). */
int blk_parse(const struct vq_chain *c, struct blk_request *r);

/* ---- console: the terminal (stdin/stdout) ---- */
struct console_backend;
struct console_backend *console_open(int in_fd, FILE *out);
/* Its config space (one 80x25 port), on a freshly added device. */
void console_init_config(struct virtio_dev *d);
void console_close(struct console_backend *cb);

/* ---- balloon ---- */
struct balloon_backend;
/* Frames gmem_ptr refuses (a PV domain's VMM-owned pages) are never given up. */
struct balloon_backend *balloon_open(uint64_t target_mib);
void balloon_start(struct balloon_backend *b, struct virtio_dev *d);
void balloon_set_target(struct virtio_dev *d, uint64_t mib);
/* Current size in MiB and the guest's last statistics as "tag=value ..." text. */
void balloon_describe(struct virtio_dev *d, char *buf, size_t len);
/* The balloon's target and what the driver says it holds now, in bytes. */
void balloon_sizes(struct virtio_dev *d, uint64_t *target_bytes, uint64_t *actual_bytes);
void balloon_close(struct balloon_backend *b);
/* Inflate parser: the PFNs in a chain (4-byte each), for the fuzzer and tests. */
unsigned balloon_parse_pfns(const struct vq_chain *c, uint32_t *pfns, unsigned max);

/* ---- network: a TAP device ---- */
struct net_backend;
/* Parse "tap=NAME[,mac=xx:xx:xx:xx:xx:xx][,queues=1|2]"; opens the TAP (a queue per queue
 * pair, IFF_MULTI_QUEUE with 2). NULL with a message in err. */
struct net_backend *net_open(const char *spec, char *err, size_t errlen);
/* The device it makes: virtio_net_ops, or virtio_net_mq_ops with queues=2. */
const struct virtio_dev_ops *net_device_ops(const struct net_backend *n);
/* A backend on an open fd (tests and the fuzzer: /dev/null). */
struct net_backend *net_open_fd(int fd);
/* The same with a queue pair per fd (1 or 2; 2 makes the multiqueue device). */
struct net_backend *net_open_fds(const int *fds, unsigned pairs);
void net_init_config(struct net_backend *n, struct virtio_dev *d);
void net_close(struct net_backend *n);
void net_io(const struct net_backend *n, struct dev_io *out);
/* A transmitted virtio_net_hdr before a frame of len bytes, against the driver's features:
 * 0, or -EINVAL with *why (the frame is dropped). For the fuzzer and tests too. */
int net_hdr_check_tx(const struct virtio_net_hdr *h, uint64_t len, uint64_t features,
		     const char **why);

#endif
