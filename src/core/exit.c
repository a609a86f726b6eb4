/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The exit table: one handler per KVM exit reason, each returning what the vCPU loop does
 * next. An exit without a handler ends the domain with a report, never a hang.
 */
#include <stddef.h>

#include "capsule/gdb.h"
#include "capsule/introspect.h"
#include "capsule/log.h"
#include "capsule/vm.h"

static enum exit_action dispatch(struct vcpu *v, const struct io_bus *bus, const char *space,
				 uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	const struct io_range *r = bus_find(bus, addr, len);

	if (r)
		return r->fn(v, r->opaque, addr, data, len, is_write);
	if (v->vm->strict_io)
		return vcpu_crash(v, NULL, NULL, "unhandled %s %s at 0x%llx (%u bytes)", space,
				  is_write ? "write" : "read", (unsigned long long)addr, len);
	/* Lenient platforms: reads of nothing float high, writes vanish. */
	if (!is_write)
		for (uint32_t i = 0; i < len; i++)
			data[i] = 0xff;
	return EXIT_CONTINUE;
}

static enum exit_action exit_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* String I/O (rep outs/ins) hands over `count` items at once. */
	for (uint32_t i = 0; i < run->io.count; i++) {
		enum exit_action a = dispatch(v, &v->vm->pio, "port", run->io.port,
					      data + (size_t)i * run->io.size, run->io.size,
					      is_write);
		if (a != EXIT_CONTINUE)
			return a;
	}
	return EXIT_CONTINUE;
}

static enum exit_action exit_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	if (run->mmio.len > sizeof(run->mmio.data))
		return vcpu_crash(v, NULL, NULL, "MMIO access of %u bytes", run->mmio.len);
	/* a write to a watched page (its slot is read-only): src/introspect/watch.c */
	if (run->mmio.is_write && v->vm->watches &&
	    watch_mmio_write(v, run->mmio.phys_addr, run->mmio.data, run->mmio.len))
		return EXIT_CONTINUE;
	return dispatch(v, &v->vm->mmio, "MMIO", run->mmio.phys_addr, run->mmio.data,
			run->mmio.len, run->mmio.is_write);
}

static enum exit_action exit_shutdown(struct vcpu *v)
{
	return vcpu_crash(v, NULL, NULL, "triple fault (the CPU shut down)");
}

static enum exit_action exit_hlt(struct vcpu *v)
{
	return vcpu_crash(v, NULL, NULL, "halted with no way to wake up");
}

static enum exit_action exit_fail_entry(struct vcpu *v)
{
	return vcpu_crash(v, NULL, NULL, "KVM could not enter the guest (hardware reason 0x%llx)",
			  (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
}

static enum exit_action exit_internal_error(struct vcpu *v)
{
	return vcpu_crash(v, NULL, NULL, "KVM internal error (suberror %u, e.g. an instruction "
			  "KVM cannot emulate)", v->run->internal.suberror);
}

/* A breakpoint or a step of the debugger (KVM_SET_GUEST_DEBUG): src/gdb/stub.c. */
static enum exit_action exit_debug(struct vcpu *v)
{
	return (enum exit_action)gdb_debug_exit(v);
}

typedef enum exit_action (*exit_handler_fn)(struct vcpu *v);

static const exit_handler_fn exit_handlers[] = {
	[KVM_EXIT_IO] = exit_io,
	[KVM_EXIT_MMIO] = exit_mmio,
	[KVM_EXIT_HLT] = exit_hlt,
	[KVM_EXIT_DEBUG] = exit_debug,
	[KVM_EXIT_SHUTDOWN] = exit_shutdown,
	[KVM_EXIT_FAIL_ENTRY] = exit_fail_entry,
	[KVM_EXIT_INTERNAL_ERROR] = exit_internal_error,
};

enum exit_action vcpu_handle_exit(struct vcpu *v)
{
	uint32_t reason = v->run->exit_reason;

	if (reason < sizeof(exit_handlers) / sizeof(exit_handlers[0]) && exit_handlers[reason])
		return exit_handlers[reason](v);
	return vcpu_crash(v, NULL, NULL, "unexpected KVM exit %u", reason);
}
