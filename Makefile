# SPDX-License-Identifier: Apache-2.0
SHELL := /bin/bash
# Capsule: `make` builds the VMM and the guest kit, `make check` runs every test,
# `make demo` installs what is missing, builds, and runs the demo domain.

VERSION   := 0.1.0
CC        ?= gcc
BUILD     ?= build
WARNINGS  := -Wall -Wextra -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes -Wshadow \
             -Wpointer-arith -Wvla -Werror
CFLAGS    ?= -O2 -g
HOST_CFLAGS := $(CFLAGS) $(WARNINGS) -std=gnu11 -D_GNU_SOURCE -Iinclude \
               -DCAPSULE_VERSION='"$(VERSION)"' -MMD -MP $(EXTRA_CFLAGS)
HOST_LDFLAGS := $(LDFLAGS) $(EXTRA_LDFLAGS)
# OpenSSL: migration's TLS (src/util/tls.c), linked statically into build/capsule too.
HOST_LIBS := -luring -ljansson -lz -lssl -lcrypto -lpthread

# Guest code: freestanding, baseline x86-64 (the test hosts offer no SSE3+, see docs/hosts.md).
GUEST_CFLAGS := -O2 -g -std=gnu11 $(WARNINGS) -ffreestanding -fno-builtin -nostdlib \
                -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables \
                -march=x86-64 -mtune=generic -mcmodel=small -Iinclude -Iguest/include -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,guest/link.ld -Wl,--build-id=none \
                 -Wl,-z,noexecstack -Wl,-z,max-page-size=4096

VMM_SRCS  := $(filter-out src/daemon/% src/oci/%,$(wildcard src/*/*.c))
# capsuled: its own binary, dynamically linked (SQLite), on the VMM's objects minus the CLI.
DAEMON_SRCS := $(wildcard src/daemon/*.c)
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/obj/%.o)
LIB_SRCS  := $(filter-out src/cli/%,$(VMM_SRCS))
# The seccomp program, compiled from src/util/sandbox_rules.h at build time.
GEN_BPF   := $(BUILD)/gen/seccomp_bpf.c
GEN_OBJS  := $(BUILD)/obj/gen/seccomp_bpf.o
VMM_OBJS  := $(VMM_SRCS:%.c=$(BUILD)/obj/%.o) $(GEN_OBJS)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(GEN_OBJS)

KIT_COMMON := $(wildcard guest/lib/common/*.c)
KIT_SRCS  := $(KIT_COMMON) $(wildcard guest/lib/pv/*.c) guest/lib/pv/start.S
KIT_OBJS  := $(patsubst %,$(BUILD)/obj/%.o,$(basename $(KIT_SRCS)))
KIT_LIB   := $(BUILD)/guest/libkit.a

# The HVM flavour of the kit, for test kernels that boot by multiboot (and PVH).
HVM_KIT_SRCS := $(KIT_COMMON) $(wildcard guest/lib/hvm/*.c) guest/lib/hvm/start.S
HVM_KIT_OBJS := $(patsubst %,$(BUILD)/obj-hvm/%.o,$(basename $(HVM_KIT_SRCS)))
# Kernel code: no SSE (kernels do not save it, and emulators may not know it), and no red
# zone (interrupts at CPL 0 push onto the running stack).
HVM_CFLAGS := $(GUEST_CFLAGS) -mgeneral-regs-only -mno-red-zone
HVM_KIT_LIB := $(BUILD)/guest/libkit-hvm.a
HVM_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,guest/hvm.ld -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
               -Wl,-z,noexecstack -Wl,-z,max-page-size=4096
HVM_KERNELS := $(patsubst tests/hvm/%.c,$(BUILD)/tests/hvm/%.elf,$(wildcard tests/hvm/*.c)) \
               $(BUILD)/tests/hvm/serial-pvh.elf $(BUILD)/tests/hvm/highmem-pvh.elf
# ... each as an ELF32 too (objcopy -O elf32-i386, as multiboot kernels are usually shipped),
# and the real-mode kernel linked at 0x8000 (tests/hvm/realmode/), an ELF32 and an ELF64 copy.
HVM_KERNELS += $(HVM_KERNELS:.elf=.elf32) $(BUILD)/tests/hvm/realmode.elf32 \
               $(BUILD)/tests/hvm/realmode.elf
RM_CFLAGS := -m16 -march=i386 -O2 -std=gnu11 $(WARNINGS) -ffreestanding -fno-builtin -nostdlib \
             -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables \
             -mgeneral-regs-only
RM_SRCS := tests/hvm/realmode/entry.S tests/hvm/realmode/main.c

EXAMPLES  := $(patsubst guest/examples/%.c,$(BUILD)/guest/%.elf,$(wildcard guest/examples/*.c))
TEST_GUESTS := $(patsubst tests/guests/%.c,$(BUILD)/tests/guests/%.elf,$(wildcard tests/guests/*.c))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/*.c))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
BENCH_GUESTS := $(patsubst bench/guests/%.c,$(BUILD)/bench/guests/%.elf,$(wildcard bench/guests/*.c))

.PHONY: all check check-linux unit integration demo bench clean deps deps-test format fuzz
all: $(BUILD)/capsule $(BUILD)/capsuled $(BUILD)/capsule-oci $(KIT_LIB) $(EXAMPLES) $(TEST_GUESTS) $(HVM_KERNELS)

# capsule itself is linked statically: exec and dynamic loading are part of every launch
# (docs/benchmarks.md). The sanitizer build sets CAPSULE_LDFLAGS= (ASan cannot be static).
CAPSULE_LDFLAGS ?= -static
$(BUILD)/capsule: $(VMM_OBJS)
	$(CC) $(HOST_CFLAGS) $(HOST_LDFLAGS) $(CAPSULE_LDFLAGS) -o $@ $^ $(HOST_LIBS)

# Its paths are state-dir + a fixed suffix, and main.c refuses a state dir that would not
# fit: gcc's truncation guesses about those snprintf calls are noise.
$(DAEMON_OBJS): HOST_CFLAGS += -Wno-format-truncation
$(BUILD)/capsuled: $(DAEMON_OBJS) $(LIB_OBJS)
	$(CC) $(HOST_CFLAGS) $(HOST_LDFLAGS) -o $@ $^ -lsqlite3 -lgnutls -lnettle $(HOST_LIBS)

# capsule-oci (docs/oci.md): the OCI runtime, on the VMM's objects minus the CLI (the
# loader, the HTTP client, cgroups); it runs build/capsule beside it as each container's VMM.
OCI_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard src/oci/*.c))
$(BUILD)/capsule-oci: $(OCI_OBJS) $(LIB_OBJS)
	$(CC) $(HOST_CFLAGS) $(HOST_LDFLAGS) -o $@ $^ $(HOST_LIBS)
$(BUILD)/tests/unit/test_oci: $(filter-out %/main.o,$(OCI_OBJS))

$(BUILD)/tools/seccomp-gen: tools/seccomp-gen.c src/util/sandbox_rules.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -o $@ $< -lseccomp

$(GEN_BPF): $(BUILD)/tools/seccomp-gen
	@mkdir -p $(dir $@)
	$< > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -c -o $@ $<

$(BUILD)/obj/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -c -o $@ $<

$(BUILD)/obj/guest/%.o: guest/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(BUILD)/obj/guest/%.o: guest/%.S
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(BUILD)/obj/tests/guests/%.o: tests/guests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(BUILD)/obj/bench/guests/%.o: bench/guests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(KIT_LIB): $(KIT_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/guest/%.elf: $(BUILD)/obj/guest/examples/%.o $(KIT_LIB) guest/link.ld
	$(CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $< $(KIT_LIB) -lgcc

$(HVM_KIT_LIB): $(HVM_KIT_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/obj-hvm/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(HVM_CFLAGS) -c -o $@ $<

$(BUILD)/obj-hvm/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(HVM_CFLAGS) -c -o $@ $<

$(BUILD)/tests/hvm/%.elf: $(BUILD)/obj-hvm/tests/hvm/%.o $(HVM_KIT_LIB) guest/hvm.ld
	@mkdir -p $(dir $@)
	$(CC) $(HVM_CFLAGS) $(HVM_LDFLAGS) -o $@ $< $(HVM_KIT_LIB) -lgcc

# The same test kernel, bootable through its PVH note as well (serial, highmem).
$(BUILD)/tests/hvm/%-pvh.elf: $(BUILD)/obj-hvm/tests/hvm/%.o $(BUILD)/obj-hvm/guest/lib/hvm/pvh_note.o $(HVM_KIT_LIB) guest/hvm.ld
	@mkdir -p $(dir $@)
	$(CC) $(HVM_CFLAGS) $(HVM_LDFLAGS) -o $@ $< $(BUILD)/obj-hvm/guest/lib/hvm/pvh_note.o $(HVM_KIT_LIB) -lgcc

$(BUILD)/tests/hvm/%.elf32: $(BUILD)/tests/hvm/%.elf
	objcopy -O elf32-i386 $< $@

$(BUILD)/tests/hvm/realmode.elf32: $(RM_SRCS) tests/hvm/realmode/link.ld
	@mkdir -p $(dir $@)
	$(CC) $(RM_CFLAGS) -static -no-pie -Wl,-m,elf_i386 -Wl,-T,tests/hvm/realmode/link.ld \
		-Wl,--build-id=none -Wl,--no-warn-rwx-segments -Wl,-z,noexecstack -o $@ $(RM_SRCS)

$(BUILD)/tests/hvm/realmode.elf: $(BUILD)/tests/hvm/realmode.elf32
	objcopy -O elf64-x86-64 $< $@

$(BUILD)/tests/guests/%.elf: $(BUILD)/obj/tests/guests/%.o $(KIT_LIB) guest/link.ld
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $< $(KIT_LIB) -lgcc

$(BUILD)/bench/guests/%.elf: $(BUILD)/obj/bench/guests/%.o $(KIT_LIB) guest/link.ld
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $< $(KIT_LIB) -lgcc

# Unit tests: cmocka, linked against the VMM's objects minus the CLI.
$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Itests/unit -o $@ $^ $(HOST_LDFLAGS) -lcmocka $(HOST_LIBS)

# Unit tests need no KVM, except test_domain, which runs two real domains in one process.
unit: $(UNIT_TESTS) $(EXAMPLES)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; CAPSULE_GUESTS=$(BUILD)/guest $$t; done

integration: all
	tests/integration/run.sh $(BUILD)
	tests/integration/jail.sh $(BUILD)
	tests/integration/measure.py $(BUILD)
	tests/daemon/run.py $(BUILD) --domains 1000
	tests/daemon/snapshot.py $(BUILD) --clones 100
	tests/daemon/migrate.py $(BUILD)
	tests/daemon/memory.py $(BUILD) --domains 10
	tests/daemon/sched.py $(BUILD)

# The integration suite and capsuled's with every VMM jailed (docs/jailer.md): about ten
# minutes; `make integration` runs tests/integration/jail.sh, a jailed subset, itself.
.PHONY: check-jailed
check-jailed: all
	CAPSULE_JAIL=1 tests/integration/run.sh $(BUILD)
	CAPSULE_JAIL=1 tests/daemon/run.py $(BUILD) --domains 100

# capsuled at scale, longer: 1,000 domains created, listed, re-attached after a kill -9
# and destroyed, three times over (tests/daemon/run.py, bench/daemon.py).
.PHONY: soak-daemon
soak-daemon: all
	set -e; for i in 1 2 3; do tests/daemon/run.py $(BUILD) --only scale,daemon-kill9 --domains 1000 --kill9 1000; done
	tests/daemon/snapshot.py $(BUILD) --only clones --clones 1000

# The first minute of a real Linux boot (downloads Debian's cloud kernel): several minutes.
check-linux: all
	tests/integration/linux.sh $(BUILD) $(BUILD)/linux-assets

# ---- PV ABI conformance suite (docs/pv-abi.md, "Conformance"): tiny guests written against
# include/capsule/pv_abi.h alone, with their own framework (xtf*) instead of the guest kit.
CONF_SRC  := tests/conformance
CONF_DIR  := $(BUILD)/tests/conformance
CONF_FW   := $(BUILD)/obj/$(CONF_SRC)/xtf.o $(BUILD)/obj/$(CONF_SRC)/xtf_entry.o \
             $(BUILD)/obj/$(CONF_SRC)/xtf_virtio.o
CONF_ELFS := $(patsubst $(CONF_SRC)/%.c,$(CONF_DIR)/%.elf,$(filter-out $(CONF_SRC)/xtf%,$(wildcard $(CONF_SRC)/*.c))) \
             $(CONF_DIR)/image_high.elf
CONF_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,$(CONF_SRC)/link.ld -Wl,--build-id=none \
                -Wl,-z,noexecstack -Wl,-z,max-page-size=4096
.PHONY: conformance

$(BUILD)/obj/$(CONF_SRC)/%.o: $(CONF_SRC)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(BUILD)/obj/$(CONF_SRC)/%.o: $(CONF_SRC)/%.S
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(CONF_DIR)/%.elf: $(BUILD)/obj/$(CONF_SRC)/%.o $(CONF_FW) $(CONF_SRC)/link.ld
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) $(CONF_LDFLAGS) -o $@ $< $(CONF_FW) -lgcc

# The image test linked at 1 GiB instead of 1 MiB (R-IMG-9; -mcmodel=small stops at 2 GiB).
$(CONF_DIR)/image_high.elf: $(BUILD)/obj/$(CONF_SRC)/image.o $(CONF_FW) $(CONF_SRC)/link.ld
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -Wl,--defsym=XTF_LOAD=0x40000000 $(CONF_LDFLAGS) -o $@ $< $(CONF_FW) -lgcc

conformance: $(BUILD)/capsule $(CONF_ELFS)
	$(CONF_SRC)/run.sh $(BUILD)

check: deps-test
	@$(MAKE) --no-print-directory unit integration conformance check-install check-web check-oci check-linux

# capsule-oci (docs/oci.md): the runtime's commands and errors, then a containerd of the
# test's own running a packed OCI image through ctr (tests/oci/run.py).
.PHONY: check-oci
check-oci: $(BUILD)/capsule $(BUILD)/capsule-oci $(BUILD)/tests/guests/ociguest.elf \
		$(BUILD)/tests/guests/echo.elf $(BUILD)/tests/guests/spin.elf $(BUILD)/tests/hvm/serial.elf
	timeout -k 5 300 tests/oci/run.py $(BUILD)

# ---- The web dashboard (web/, docs/capsuled.md "The web dashboard"): npm packages (from
# web/package-lock.json) and web/src/ into static files in $(BUILD)/web, which capsuled
# --web serves; check-web drives it in headless Chromium against a real capsuled.
WEB_SRCS := $(wildcard web/src/*) web/build.mjs
.PHONY: web check-web
web: $(BUILD)/web/index.html

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

$(BUILD)/web/index.html: $(WEB_SRCS) web/node_modules/.package-lock.json
	node web/build.mjs $(BUILD)/web

check-web: $(BUILD)/capsule $(BUILD)/capsuled $(BUILD)/web/index.html \
		$(BUILD)/tests/guests/ticker.elf $(BUILD)/tests/guests/echo.elf
	timeout -k 5 300 node tests/web/run.mjs $(BUILD)

demo: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/capsule run --vcpus 4 --cmdline "demo" $(BUILD)/guest/demo.elf

deps:
	@scripts/install-deps.sh

deps-test:
	@scripts/install-deps.sh test

bench: all $(BENCH_BINS) $(BENCH_GUESTS)
	bench/run.sh $(BUILD)

# The launch floor is exec'd as capsule is, so it is linked as capsule is (statically).
$(BUILD)/bench/launch: BENCH_LDFLAGS = $(CAPSULE_LDFLAGS)
$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(BENCH_LDFLAGS) -o $@ $< $(HOST_LIBS)

# libFuzzer harnesses (clang), run for FUZZ_SECONDS each; CI runs them. A harness's seed
# inputs, if it has any, are in tests/fuzz/seeds/HARNESS/.
FUZZ_SECONDS ?= 30
FUZZ_BUILD := build-fuzz
FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude -fsanitize=fuzzer-no-link,address,undefined
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_BUILD)/obj/gen/seccomp_bpf.o
FUZZERS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/*.c))

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/obj/gen/seccomp_bpf.o: $(GEN_BPF)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_LIB_OBJS)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ -luring -ljansson -lz -lssl -lcrypto -lpthread

fuzz: $(FUZZERS)
	@set -e; for f in $(FUZZERS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$(basename $$f); \
		if [ -x tests/fuzz/seeds.py ] && [ $$(basename $$f) = fuzz_virtio ]; then \
			tests/fuzz/seeds.py $(FUZZ_BUILD)/corpus/$$(basename $$f); fi; \
		if [ -d tests/fuzz/seeds/$$(basename $$f) ]; then \
			cp tests/fuzz/seeds/$$(basename $$f)/* $(FUZZ_BUILD)/corpus/$$(basename $$f)/; fi; \
		echo "== $$f for $(FUZZ_SECONDS) s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			$(FUZZ_BUILD)/corpus/$$(basename $$f) 2>&1 | \
			grep -E 'Done|stat::number_of_executed_units|ERROR|SUMMARY|BINGO|crash-' ; \
		test $${PIPESTATUS[0]} -eq 0; \
	done

# ---- make install: PREFIX (default /usr/local) and DESTDIR, as usual; make uninstall undoes
# it. The guest kit goes to include/capsule-guest (its headers and the ABI headers they
# include) and lib/capsule-guest (libkit.a, link.ld), with lib/pkgconfig/capsule-guest.pc:
#   cc -O2 -o guest.elf guest.c $(pkg-config --cflags --libs capsule-guest)
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL     ?= install
# The programs (INSTALL_SBIN= installs no daemon); the dashboard (INSTALL_WEB= installs none).
INSTALL_BIN  ?= $(BUILD)/capsule $(BUILD)/capsule-oci
INSTALL_SBIN ?= $(BUILD)/capsuled
INSTALL_WEB  ?= $(if $(INSTALL_SBIN),$(BUILD)/web)
WEBDIR      ?= $(DATADIR)/capsule/web
OCIDIR      ?= $(DATADIR)/capsule/oci
KIT_HEADERS := guest/include/kit.h guest/include/virtio.h
KIT_ABI_HEADERS := include/capsule/pv_abi.h include/capsule/virtio_abi.h
MAN_PAGES   := $(wildcard man/*.[1-8])
# The .pc's directories relative to ${prefix} where they are, so that
# pkg-config --define-variable=prefix=DIR finds a kit installed with a DESTDIR.
pc_dir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
.PHONY: install uninstall check-install

install: $(INSTALL_BIN) $(INSTALL_SBIN) $(KIT_LIB) guest/capsule-guest.pc.in $(if $(INSTALL_WEB),$(INSTALL_WEB)/index.html)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(INCLUDEDIR)/capsule-guest/capsule \
		$(DESTDIR)$(LIBDIR)/capsule-guest $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(BASHCOMPDIR)
	$(INSTALL) -m 0755 $(INSTALL_BIN) $(DESTDIR)$(BINDIR)/
	$(if $(INSTALL_SBIN),$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR))
	$(if $(INSTALL_SBIN),$(INSTALL) -m 0755 $(INSTALL_SBIN) $(DESTDIR)$(SBINDIR)/)
	$(if $(INSTALL_SBIN),sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' systemd/capsuled.service > $(DESTDIR)$(SYSTEMDUNITDIR)/capsuled.service)
	$(if $(INSTALL_SBIN),$(INSTALL) -m 0644 systemd/capsule.sysusers $(DESTDIR)$(SYSUSERSDIR)/capsule.conf)
	$(INSTALL) -m 0644 $(KIT_HEADERS) $(DESTDIR)$(INCLUDEDIR)/capsule-guest/
	$(INSTALL) -m 0644 $(KIT_ABI_HEADERS) $(DESTDIR)$(INCLUDEDIR)/capsule-guest/capsule/
	$(INSTALL) -m 0644 $(KIT_LIB) guest/link.ld $(DESTDIR)$(LIBDIR)/capsule-guest/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@INCLUDEDIR@|$(call pc_dir,$(INCLUDEDIR))|' \
		-e 's|@LIBDIR@|$(call pc_dir,$(LIBDIR))|' -e 's|@VERSION@|$(VERSION)|' \
		guest/capsule-guest.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/capsule-guest.pc
	for p in $(MAN_PAGES); do \
		$(INSTALL) -d $(DESTDIR)$(MANDIR)/man$${p##*.} && \
		$(INSTALL) -m 0644 $$p $(DESTDIR)$(MANDIR)/man$${p##*.}/ || exit 1; done
	$(INSTALL) -m 0644 completions/capsule.bash $(DESTDIR)$(BASHCOMPDIR)/capsule
	$(INSTALL) -m 0644 completions/capsule-oci.bash $(DESTDIR)$(BASHCOMPDIR)/capsule-oci
	$(INSTALL) -d $(DESTDIR)$(OCIDIR)
	for f in packaging/oci/*; do \
		sed -e 's|@BINDIR@|$(BINDIR)|g' $$f > $(DESTDIR)$(OCIDIR)/$${f##*/} || exit 1; done
	$(if $(INSTALL_WEB),$(INSTALL) -d $(DESTDIR)$(WEBDIR)/vendor)
	$(if $(INSTALL_WEB),$(INSTALL) -m 0644 $(wildcard $(INSTALL_WEB)/*.*) $(DESTDIR)$(WEBDIR)/)
	$(if $(INSTALL_WEB),$(INSTALL) -m 0644 $(wildcard $(INSTALL_WEB)/vendor/*) $(DESTDIR)$(WEBDIR)/vendor/)

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(INSTALL_BIN))) \
		$(addprefix $(DESTDIR)$(SBINDIR)/,$(notdir $(INSTALL_SBIN))) \
		$(DESTDIR)$(SYSTEMDUNITDIR)/capsuled.service $(DESTDIR)$(SYSUSERSDIR)/capsule.conf \
		$(addprefix $(DESTDIR)$(INCLUDEDIR)/capsule-guest/,$(notdir $(KIT_HEADERS))) \
		$(addprefix $(DESTDIR)$(INCLUDEDIR)/capsule-guest/capsule/,$(notdir $(KIT_ABI_HEADERS))) \
		$(DESTDIR)$(LIBDIR)/capsule-guest/libkit.a $(DESTDIR)$(LIBDIR)/capsule-guest/link.ld \
		$(DESTDIR)$(PKGCONFIGDIR)/capsule-guest.pc $(DESTDIR)$(BASHCOMPDIR)/capsule \
		$(DESTDIR)$(BASHCOMPDIR)/capsule-oci \
		$(foreach p,$(MAN_PAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(notdir $(p)))
	rm -rf $(DESTDIR)$(WEBDIR) $(DESTDIR)$(OCIDIR)
	rmdir $(DESTDIR)$(INCLUDEDIR)/capsule-guest/capsule $(DESTDIR)$(INCLUDEDIR)/capsule-guest \
		$(DESTDIR)$(LIBDIR)/capsule-guest 2>/dev/null || true

# Install into a scratch DESTDIR, build a guest out of tree from it, run it; man pages,
# completion, unit, uninstall (tests/install/run.sh).
check-install: $(INSTALL_BIN) $(INSTALL_SBIN) $(KIT_LIB)
	tests/install/run.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

# Keep objects: guests and benchmarks are linked from them in pattern rules.
.SECONDARY:

-include $(shell find $(BUILD)/obj $(BUILD)/obj-hvm $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
