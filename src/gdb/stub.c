/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stub's thread: one gdb connection at a time on the Unix socket, all-stop. While
 * gdb looks at the domain its vCPUs are paused (vm_pause, as for a snapshot); a resume
 * arms the vCPUs' debug state and lets them go; the first vCPU to hit a breakpoint or
 * finish a step stops them all again (vm_pause_request from its own thread) and wakes
 * this thread through an eventfd, which tells gdb. Ctrl-C stops them from here.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "capsule/log.h"
#include "capsule/sandbox.h"
#include "stub.h"

#define SIGTRAP_GDB 5
#define SIGINT_GDB 2

static void wake(struct gdb_stub *s)
{
	uint64_t one = 1;

	if (write(s->wake_fd, &one, sizeof(one)) < 0)
		log_debug("gdb: wake: %m");
}

static void send_raw(struct gdb_stub *s, const char *p, size_t n)
{
	while (n && s->conn >= 0 && !s->broken) {
		ssize_t w = send(s->conn, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) { /* the socket loop drops it (drop_connection) */
			log_info("gdb: the connection is gone (%s)", w < 0 ? strerror(errno) : "closed");
			s->broken = true;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void send_packet(struct gdb_stub *s, const char *body)
{
	static const size_t cap = 2 * GDB_PACKET_MAX + 8;
	char *out = malloc(cap);
	size_t n = out ? gdb_frame(body, strlen(body), out, cap) : 0;

	if (n)
		send_raw(s, out, n);
	free(out);
}

/* Under vm_lock: every vCPU of the boot stopped (or the boot ended). */
static void halt(struct gdb_stub *s)
{
	int err;

	if (!s->vm || s->halted)
		return;
	/* The boot vCPU may not have been started yet (gdb came first): wait for it, it will
	 * stop before its first instruction (a loaded host may take seconds to get there). */
	for (unsigned i = 0; i < 6000 && s->vm->vcpus[0].state == VCPU_DOWN && !vm_ended(s->vm);
	     i++)
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	vm_pause_request(s->vm); /* -EBUSY: a vCPU asked already */
	err = vm_pause_wait(s->vm);
	if (err < 0 && err != -EINVAL)
		log_warn("gdb: the domain did not stop (%s)", strerror(-err));
	s->halted = err >= 0;
}

static void resume(struct gdb_stub *s, int step_vcpu)
{
	int err;

	if (!s->vm || !s->halted)
		return;
	if ((err = gdb_arm(s, step_vcpu)))
		log_warn("gdb: cannot arm the vCPUs' debug state (%s)", strerror(-err));
	pthread_mutex_lock(&s->ev_lock);
	s->posted = false;
	pthread_mutex_unlock(&s->ev_lock);
	s->halted = false;
	vm_resume(s->vm);
}

static void drop_connection(struct gdb_stub *s)
{
	/* From here no vCPU posts a stop; one that did before parks before halt() returns,
	 * and resume() below clears its stop. */
	__atomic_store_n(&s->live, false, __ATOMIC_RELEASE);
	pthread_mutex_lock(&s->vm_lock);
	/* Stopped first: a vCPU that just hit an int3 must find it in the table (a trap at
	 * an address no longer there would be taken for the guest's own int3), and no vCPU
	 * may run over a byte being put back. */
	halt(s);
	gdb_disarm_all(s);
	resume(s, -1);
	pthread_mutex_unlock(&s->vm_lock);
	if (s->conn >= 0)
		close(s->conn);
	s->conn = -1;
	s->broken = false;
	log_info("gdb: detached; the domain runs on");
}

static void on_connect(struct gdb_stub *s, int fd)
{
	s->conn = fd;
	__atomic_store_n(&s->live, true, __ATOMIC_RELEASE);
	gdb_rx_init(&s->rx);
	s->sess = (struct gdb_session){.ops = &gdb_kvm_ops, .target = s, .c_vcpu = -1};
	s->sess.stop = (struct gdb_stop){.vcpu = 0, .signal = SIGTRAP_GDB};
	pthread_mutex_lock(&s->vm_lock);
	/* gdb may come before the first boot is built: wait for it (a minute at most) */
	for (unsigned i = 0; i < 600 && !s->vm && !s->closing; i++) {
		struct timespec t;

		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_nsec += 100000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->attached, &s->vm_lock, &t);
	}
	halt(s); /* stop on connect */
	pthread_mutex_unlock(&s->vm_lock);
	log_info("gdb: connected; the domain is stopped");
}

static void handle_packet(struct gdb_stub *s)
{
	static const size_t cap = 2 * GDB_PACKET_MAX + 8;
	char *reply = malloc(cap);
	struct gdb_resume res;
	enum gdb_action a;

	if (!reply)
		return;
	pthread_mutex_lock(&s->vm_lock);
	if (!s->halted) { /* all-stop: gdb only talks to a stopped domain */
		pthread_mutex_unlock(&s->vm_lock);
		free(reply);
		return;
	}
	a = gdb_dispatch(&s->sess, s->rx.buf, s->rx.len, reply, cap, &res);
	if (a == GDB_RESUME)
		resume(s, res.step_vcpu);
	pthread_mutex_unlock(&s->vm_lock);
	if (a == GDB_REPLY || a == GDB_DETACH || (a == GDB_KILL && reply[0]))
		send_packet(s, reply);
	free(reply);
	if (a == GDB_DETACH) {
		drop_connection(s);
	} else if (a == GDB_KILL) {
		log_info("gdb: kill: the domain is destroyed");
		domain_end(s->d, VM_END_POWEROFF, 128 + 9);
		drop_connection(s);
	}
}

static void on_input(struct gdb_stub *s)
{
	uint8_t buf[4096];
	ssize_t n = read(s->conn, buf, sizeof(buf));

	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		drop_connection(s);
		return;
	}
	for (ssize_t i = 0; i < n && s->conn >= 0 && !s->broken; i++) {
		switch (gdb_rx_feed(&s->rx, buf[i])) {
		case GDB_RX_PACKET:
			if (!s->sess.no_ack)
				send_raw(s, "+", 1);
			handle_packet(s);
			break;
		case GDB_RX_BAD:
			send_raw(s, "-", 1);
			break;
		case GDB_RX_INTR: {
			char reply[64] = "";

			pthread_mutex_lock(&s->vm_lock);
			if (s->vm && !s->halted) {
				halt(s);
				if (s->halted) {
					s->sess.stop = (struct gdb_stop){.vcpu = 0, .signal = SIGINT_GDB};
					s->sess.g_vcpu = 0;
					gdb_stop_reply(&s->sess, reply, sizeof(reply));
				}
			}
			pthread_mutex_unlock(&s->vm_lock);
			if (reply[0])
				send_packet(s, reply);
			break;
		}
		default:
			break;
		}
	}
}

/* A stop posted by a vCPU, or the boot's end. */
static void on_wake(struct gdb_stub *s)
{
	uint64_t n;
	char reply[64] = "";
	bool ended;

	if (read(s->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_debug("gdb: wake: %m");
	pthread_mutex_lock(&s->vm_lock);
	ended = s->ended;
	if (ended) {
		s->ended = false;
		if (!s->halted && s->conn >= 0)
			snprintf(reply, sizeof(reply), "W%02x", (unsigned)s->exit_code & 0xff);
	} else if (s->vm && !s->halted) {
		pthread_mutex_lock(&s->ev_lock);
		bool posted = s->posted;
		struct gdb_stop st = s->stop;
		pthread_mutex_unlock(&s->ev_lock);

		if (posted) {
			halt(s);
			if (s->halted) {
				s->sess.stop = st;
				s->sess.g_vcpu = st.vcpu;
				gdb_stop_reply(&s->sess, reply, sizeof(reply));
			}
		}
	}
	pthread_mutex_unlock(&s->vm_lock);
	if (reply[0] && s->conn >= 0)
		send_packet(s, reply);
	if (ended && s->conn >= 0) { /* the boot is gone: gdb's view of it ends with it */
		__atomic_store_n(&s->live, false, __ATOMIC_RELEASE);
		close(s->conn);
		s->conn = -1;
		s->broken = false;
	}
}

static void *stub_thread(void *arg)
{
	struct gdb_stub *s = arg;

	if (sandbox_enter("gdb", SANDBOX_SERVICE))
		return NULL;
	for (;;) {
		struct pollfd p[2] = {
			{.fd = s->conn >= 0 ? s->conn : s->sock.fd, .events = POLLIN},
			{.fd = s->wake_fd, .events = POLLIN},
		};

		if (__atomic_load_n(&s->closing, __ATOMIC_ACQUIRE))
			break;
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents & POLLIN)
			on_wake(s);
		if (s->conn >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) && !s->broken) {
			on_input(s);
		} else if (s->conn < 0 && (p[0].revents & POLLIN)) {
			int fd = accept4(s->sock.fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0)
				on_connect(s, fd);
		}
		if (s->broken) /* gdb went away mid-reply: as if it had detached */
			drop_connection(s);
	}
	return NULL;
}

int gdb_stub_open(struct gdb_stub **out, const char *path, char *err, size_t errlen)
{
	struct gdb_stub *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->conn = -1;
	s->sock.fd = s->sock.lock_fd = -1;
	pthread_condattr_t ca;

	pthread_mutex_init(&s->vm_lock, NULL);
	pthread_mutex_init(&s->ev_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->attached, &ca);
	pthread_condattr_destroy(&ca);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0) {
		snprintf(err, errlen, "cannot make an eventfd: %s", strerror(errno));
		free(s);
		return -1;
	}
	if (usock_listen(&s->sock, path, 0600, err, errlen)) {
		close(s->wake_fd);
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int gdb_stub_start(struct gdb_stub *s, struct domain *d)
{
	s->d = d;
	if (pthread_create(&s->thread, NULL, stub_thread, s))
		return -1;
	s->thread_started = true;
	return 0;
}

void gdb_stub_close(struct gdb_stub *s)
{
	if (!s)
		return;
	__atomic_store_n(&s->closing, true, __ATOMIC_RELEASE);
	wake(s);
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	if (s->conn >= 0)
		close(s->conn);
	usock_close(&s->sock);
	close(s->wake_fd);
	pthread_cond_destroy(&s->attached);
	free(s);
}

void gdb_stub_attach(struct gdb_stub *s, struct vm *vm)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->vm_lock);
	memset(s->sw, 0, sizeof(s->sw)); /* a new boot's memory: nothing planted */
	memset(s->hw_used, 0, sizeof(s->hw_used));
	memset(s->hw_is_sw, 0, sizeof(s->hw_is_sw));
	s->vm = vm;
	vm->gdb = s;
	pthread_cond_broadcast(&s->attached);
	/* Every boot starts stopped: its vCPUs park before their first instruction until gdb
	 * says go. A connected gdb is told as if the domain had stopped there. */
	vm_pause_request(vm);
	s->halted = true;
	s->ended = false;
	pthread_mutex_lock(&s->ev_lock);
	s->posted = false;
	pthread_mutex_unlock(&s->ev_lock);
	pthread_mutex_unlock(&s->vm_lock);
}

void gdb_stub_detach(struct gdb_stub *s, int exit_code)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->vm_lock);
	s->vm = NULL;
	s->ended = true;
	s->exit_code = exit_code;
	pthread_mutex_unlock(&s->vm_lock);
	wake(s);
}

void gdb_vcpu_stopped(struct vcpu *v, int signal, const char *reason)
{
	struct gdb_stub *s = v->vm->gdb;

	/* No gdb to tell (it went away while this trap was on its way): the vCPU goes on. */
	if (!s || !__atomic_load_n(&s->live, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&s->ev_lock);
	if (!s->posted) { /* the first stop wins; the others run into theirs again */
		s->posted = true;
		s->stop = (struct gdb_stop){.vcpu = v->id, .signal = signal, .reason = reason};
	}
	pthread_mutex_unlock(&s->ev_lock);
	vm_pause_request(v->vm); /* this vCPU parks at the top of its loop */
	wake(s);
}

int gdb_debug_exit(struct vcpu *v)
{
	const struct kvm_debug_exit_arch *a = &v->run->debug.arch;
	const char *reason = NULL;

	if (!v->vm->gdb) {
		vcpu_crash(v, NULL, NULL, "a debug exit with no debugger (exception %u)",
			   a->exception);
		return EXIT_DOMAIN_END;
	}
	if (a->exception == 3) {
		reason = "swbreak";
	} else if (a->dr6 & 0xf) {
		unsigned n = (unsigned)__builtin_ctzll(a->dr6 & 0xf);

		reason = gdb_hw_is_sw(v->vm->gdb, n) ? "swbreak" : "hwbreak";
	}
	gdb_vcpu_stopped(v, SIGTRAP_GDB, reason);
	return EXIT_CONTINUE;
}

bool gdb_pv_trap(struct vcpu *v, struct kvm_regs *regs, struct kvm_sregs *sregs,
		 uint64_t vector, uint64_t error)
{
	struct gdb_stub *s = v->vm->gdb;
	const char *reason = NULL;
	struct kvm_sregs user;
	bool report = true;

	/* int3 at CPL 3 meets the IDT's DPL 0 gate: #GP with the IDT bit and vector 3 in its
	 * error code (0x1a), rip at the int3 itself. */
	bool bp = vector == 3 || (vector == 13 && error == (3 << 3 | 2));

	if (!s || (sregs->cs.selector & 3) != 3 || (!bp && vector != 1))
		return false;
	if (bp) {
		uint64_t at = vector == 3 ? regs->rip - 1 : regs->rip;

		/* The table changes only while every vCPU is paused (vm_resume orders it before
		 * this read), so no lock: the socket thread may hold vm_lock waiting for us. */
		const struct gdb_sw_bp *b = gdb_sw_bp_at(s, at);
		/* Ours, taken out while this trap was on its way (gdb detached, or a z0): the
		 * restored instruction runs, and there is nothing to report. */
		bool gone = !b && gdb_sw_bp_gone(s, at, &v->vm->mem);

		/* ours: gdb wants the pc at the breakpoint; the guest's own: past it */
		regs->rip = b || gone ? at : at + 1;
		reason = !b ? NULL : b->hw ? "hwbreak" : "swbreak";
		report = !gone;
	} else {
		struct kvm_debugregs dr;

		if (ioctl(v->fd, KVM_GET_DEBUGREGS, &dr) == 0) {
			if (dr.dr6 & 0xf)
				reason = gdb_hw_is_sw(s, (unsigned)__builtin_ctzll(dr.dr6 & 0xf))
						 ? "swbreak" : "hwbreak";
			dr.dr6 = 0xffff0ff0;
			ioctl(v->fd, KVM_SET_DEBUGREGS, &dr);
		}
		regs->rflags &= ~(1ull << 8); /* TF: the step is done */
	}
	/* Back to CPL 3 where the guest was, as an iretq from the stub would have put it. */
	pv_vcpu_sregs(v->vm, v->id, &user);
	sregs->cs = user.cs;
	sregs->ss = user.ss;
	if (ioctl(v->fd, KVM_SET_SREGS, sregs) < 0 || ioctl(v->fd, KVM_SET_REGS, regs) < 0) {
		vcpu_crash(v, regs, sregs, "a debug trap, and the registers cannot be put back "
			   "(%s)", strerror(errno));
		return true;
	}
	if (report)
		gdb_vcpu_stopped(v, SIGTRAP_GDB, reason);
	return true;
}
