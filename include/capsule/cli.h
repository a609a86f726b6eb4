/* The `capsule` command: one function per subcommand, each returning the exit status. */
#ifndef CAPSULE_CLI_H
#define CAPSULE_CLI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "capsule/devices.h"
#include "capsule/pv.h"

int cmd_run(int argc, char **argv);
int cmd_control(int argc, char **argv);

/* Parse a decimal number in [min, max]; 0 or -1 with a message naming the option. */
int parse_u64(const char *opt, const char *text, uint64_t min, uint64_t max, uint64_t *out);

#define MAX_DISKS 8

/* Host backends named on the command line: opened once, attached at every boot. */
struct run_devices {
	struct blk_backend *disks[MAX_DISKS];
	unsigned nr_disks;
	struct net_backend *net;
	struct console_backend *console;
	struct balloon_backend *balloon;
	bool rng;
	/* the devices of the domain running now */
	struct virtio_dev *active[CAP_MAX_DEVICES];
	unsigned nr_active;
	struct virtio_dev *balloon_dev;
};

/* How a kind of domain adds a virtio device (pv_add_device, hvm_add_device). */
typedef struct virtio_dev *(*add_device_fn)(void *domain, const struct virtio_dev_ops *ops,
					    void *priv);

/* Add an option's device; -1 after printing why. */
int devices_add_disk(struct run_devices *rd, const char *spec);
int devices_add_net(struct run_devices *rd, const char *spec);
int devices_add_balloon(struct run_devices *rd, const char *mib);
/* Create every device on a domain about to be built; start their backends once it runs. */
int devices_attach(struct run_devices *rd, add_device_fn add, void *domain);
void devices_start(struct run_devices *rd);
/* Stop the backends' threads before the domain's devices go away. */
void devices_detach(struct run_devices *rd);
void devices_close(struct run_devices *rd);
void devices_print_stats(const struct run_devices *rd);

/* The control socket of a running domain (`capsule run --control PATH`). */
struct control;
struct control *control_open(const char *path, pthread_mutex_t *lock,
			     struct run_devices *rd, struct vm **vm);
void control_close(struct control *c);

#endif
