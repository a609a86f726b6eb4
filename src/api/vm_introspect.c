/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Introspection endpoints (docs/introspection.md): memory, registers, translations,
 * regions and watches, each a PUT with a JSON object (so that capsuled forwards them as
 * they are). Addresses go both ways as "0x..." strings (JSON numbers stop at 2^53 in
 * many clients); a JSON integer is taken too. Watch events go out on vm.events.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capsule/api.h"
#include "capsule/domain.h"
#include "capsule/introspect.h"
#include "capsule/vmm_api.h"

/* key: a non-negative integer, or a string "0x..."/decimal; absent: def (or -1: needed).
 * 0, or -1 with the 400 given. */
static int u64_field(json_t *j, const char *key, int64_t def, uint64_t *out,
		     struct http_response *resp)
{
	json_t *v = json_object_get(j, key);
	const char *s;
	char *end;

	if (!v) {
		if (def < 0) {
			api_error(resp, 400, "\"%s\" is needed", key);
			return -1;
		}
		*out = (uint64_t)def;
		return 0;
	}
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && (s = json_string_value(v))[0] && s[0] != '-') {
		errno = 0;
		*out = strtoull(s, &end, 0);
		if (!errno && !*end)
			return 0;
	}
	api_error(resp, 400, "\"%s\" must be a non-negative integer or a \"0x...\" string", key);
	return -1;
}

static json_t *hex64(uint64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "0x%llx", (unsigned long long)v);
	return json_string(s);
}

static char *to_hex(const uint8_t *b, size_t n)
{
	static const char dig[] = "0123456789abcdef";
	char *s = malloc(2 * n + 1);

	for (size_t i = 0; s && i < n; i++) {
		s[2 * i] = dig[b[i] >> 4];
		s[2 * i + 1] = dig[b[i] & 15];
	}
	if (s)
		s[2 * n] = 0;
	return s;
}

/* The status and sentence for an introspection error. */
static void fail(struct http_response *resp, int err, const char *what)
{
	switch (err) {
	case -ESRCH:
		return api_error(resp, 409, "%s: the domain is not running or paused, or has no "
				 "such vCPU", what);
	case -EFAULT:
		return api_error(resp, 422, "%s: the address is not mapped, or not in guest RAM",
				 what);
	case -ENOTSUP:
		return api_error(resp, 422, "%s: the vCPU's paging mode is not supported", what);
	case -EBUSY:
		return api_error(resp, 409, "%s: the domain is busy (ending, or a live snapshot "
				 "or migration runs)", what);
	case -EEXIST:
		return api_error(resp, 409, "%s: the range shares a page with another watch",
				 what);
	case -ENOSPC:
		return api_error(resp, 409, "%s: at most %u watches", what, WATCH_MAX);
	case -ENOENT:
		return api_error(resp, 404, "%s: no such watch", what);
	case -EINVAL:
		return api_error(resp, 400, "%s: the range is empty, too long, or not the "
				 "guest's RAM", what);
	default:
		return api_error(resp, 500, "%s: %s", what, strerror(-err));
	}
}

void vm_api_memory(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const char *const keys[] = {"gpa", "gva", "vcpu", "len", NULL};
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	json_t *j = vmm_api_body(req, resp, keys), *out;
	uint64_t addr, vcpu, len;
	bool virt;
	uint8_t *buf;
	char *hex;
	int r;

	if (!j)
		return;
	virt = json_object_get(j, "gva") != NULL;
	if (virt == (json_object_get(j, "gpa") != NULL)) {
		json_decref(j);
		return api_error(resp, 400, "give one of \"gpa\" and \"gva\"");
	}
	r = u64_field(j, virt ? "gva" : "gpa", -1, &addr, resp) ||
	    u64_field(j, "vcpu", 0, &vcpu, resp) || u64_field(j, "len", -1, &len, resp);
	json_decref(j);
	if (r)
		return;
	if (len == 0 || len > INSPECT_READ_MAX)
		return api_error(resp, 400, "\"len\" must be from 1 to %u", INSPECT_READ_MAX);
	if (vcpu > 0xffff)
		return fail(resp, -ESRCH, "memory");
	if (!(buf = malloc(len)))
		return api_error(resp, 500, "out of memory");
	r = inspect_read(d, virt, (unsigned)vcpu, addr, buf, len);
	hex = r ? NULL : to_hex(buf, len);
	free(buf);
	if (r)
		return fail(resp, r, "memory");
	if (!hex)
		return api_error(resp, 500, "out of memory");
	out = json_pack("{s:o, s:I, s:s}", virt ? "gva" : "gpa", hex64(addr), "len",
			(json_int_t)len, "data", hex);
	free(hex);
	vmm_api_reply(resp, 200, out);
}

void vm_api_registers(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const char *const keys[] = {"vcpu", NULL};
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	json_t *j = vmm_api_body(req, resp, keys), *o;
	struct kvm_regs r;
	struct kvm_sregs s;
	uint64_t vcpu;
	int err;

	if (!j)
		return;
	err = u64_field(j, "vcpu", 0, &vcpu, resp);
	json_decref(j);
	if (err)
		return;
	if (vcpu > 0xffff || (err = inspect_regs(d, (unsigned)vcpu, &r, &s)))
		return fail(resp, vcpu > 0xffff ? -ESRCH : err, "registers");
	const struct { const char *name; uint64_t v; } regs[] = {
		{"rax", r.rax}, {"rbx", r.rbx}, {"rcx", r.rcx}, {"rdx", r.rdx}, {"rsi", r.rsi},
		{"rdi", r.rdi}, {"rsp", r.rsp}, {"rbp", r.rbp}, {"r8", r.r8}, {"r9", r.r9},
		{"r10", r.r10}, {"r11", r.r11}, {"r12", r.r12}, {"r13", r.r13}, {"r14", r.r14},
		{"r15", r.r15}, {"rip", r.rip}, {"rflags", r.rflags}, {"cr0", s.cr0},
		{"cr2", s.cr2}, {"cr3", s.cr3}, {"cr4", s.cr4}, {"efer", s.efer},
		{"cs", s.cs.selector}, {"ss", s.ss.selector}, {"fs_base", s.fs.base},
		{"gs_base", s.gs.base},
	};
	o = json_object();
	json_object_set_new(o, "vcpu", json_integer((json_int_t)vcpu));
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		json_object_set_new(o, regs[i].name, hex64(regs[i].v));
	json_object_set_new(o, "cpl", json_integer(s.cs.selector & 3));
	vmm_api_reply(resp, 200, o);
}

void vm_api_translate(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const char *const keys[] = {"gva", "vcpu", NULL};
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	json_t *j = vmm_api_body(req, resp, keys);
	uint64_t gva, vcpu, size;
	gpa_t gpa;
	int r;

	if (!j)
		return;
	r = u64_field(j, "gva", -1, &gva, resp) || u64_field(j, "vcpu", 0, &vcpu, resp);
	json_decref(j);
	if (r)
		return;
	if (vcpu > 0xffff || (r = inspect_translate(d, (unsigned)vcpu, gva, &gpa, &size)))
		return fail(resp, vcpu > 0xffff ? -ESRCH : r, "translate");
	vmm_api_reply(resp, 200, json_pack("{s:o, s:o, s:I}", "gva", hex64(gva), "gpa",
					   hex64(gpa), "page_size", (json_int_t)size));
}

void vm_api_regions(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const char *const keys[] = {"vcpu", NULL};
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	json_t *j = vmm_api_body(req, resp, keys), *arr;
	struct inspect_region *rg;
	uint64_t vcpu;
	bool truncated = false;
	int n;

	if (!j)
		return;
	n = u64_field(j, "vcpu", 0, &vcpu, resp);
	json_decref(j);
	if (n)
		return;
	if (!(rg = calloc(INSPECT_MAX_REGIONS, sizeof(*rg))))
		return api_error(resp, 500, "out of memory");
	n = vcpu > 0xffff ? -ESRCH
			  : inspect_regions(d, (unsigned)vcpu, rg, INSPECT_MAX_REGIONS, &truncated);
	if (n < 0) {
		free(rg);
		return fail(resp, n, "regions");
	}
	arr = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:o, s:o, s:o, s:b, s:b, s:b}", "start",
						     hex64(rg[i].start), "end", hex64(rg[i].end),
						     "gpa", hex64(rg[i].gpa), "writable",
						     rg[i].writable, "user", rg[i].user,
						     "executable", rg[i].executable));
	free(rg);
	vmm_api_reply(resp, 200, json_pack("{s:o, s:b}", "regions", arr, "truncated", truncated));
}

void vm_api_watch(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const char *const keys[] = {"gpa", "len", "pause", NULL};
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	json_t *j = vmm_api_body(req, resp, keys), *p;
	uint64_t gpa, len;
	bool pause;
	int64_t id;
	int r;

	if (!j)
		return;
	r = u64_field(j, "gpa", -1, &gpa, resp) || u64_field(j, "len", -1, &len, resp);
	p = json_object_get(j, "pause");
	if (!r && p && !json_is_boolean(p)) {
		api_error(resp, 400, "\"pause\" must be true or false");
		r = -1;
	}
	pause = p && json_is_true(p);
	json_decref(j);
	if (r)
		return;
	if ((id = watch_add(d, gpa, len, pause)) < 0)
		return fail(resp, (int)id, "watch");
	vmm_api_reply(resp, 200, json_pack("{s:I}", "id", (json_int_t)id));
}

static void by_id(void *ctx, const struct http_request *req, struct http_response *resp,
		  int (*fn)(struct domain *d, uint64_t id), const char *what)
{
	static const char *const keys[] = {"id", NULL};
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	json_t *j = vmm_api_body(req, resp, keys);
	uint64_t id;
	int r;

	if (!j)
		return;
	r = u64_field(j, "id", -1, &id, resp);
	json_decref(j);
	if (r)
		return;
	if ((r = fn(d, id)))
		return fail(resp, r, what);
	resp->status = 204;
}

void vm_api_watch_rearm(void *ctx, const struct http_request *req, struct http_response *resp)
{
	by_id(ctx, req, resp, watch_rearm, "watch-rearm");
}

void vm_api_watch_remove(void *ctx, const struct http_request *req, struct http_response *resp)
{
	by_id(ctx, req, resp, watch_remove, "watch-remove");
}

void vm_api_watches(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	struct watch w[WATCH_MAX];
	unsigned n = watch_list(d, w, WATCH_MAX);
	json_t *arr = json_array();

	(void)req;
	for (unsigned i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:I, s:o, s:I, s:b, s:b, s:I}", "id",
						     (json_int_t)w[i].id, "gpa", hex64(w[i].start),
						     "len", (json_int_t)(w[i].end - w[i].start),
						     "pause", w[i].pause, "fired", w[i].fired,
						     "writes", (json_int_t)w[i].writes));
	vmm_api_reply(resp, 200, json_pack("{s:o}", "watches", arr));
}

/* PUT vm.dump-core with the core file's descriptor (the VMM opens no files). */
void vm_api_dump_core(void *ctx, const struct http_request *req, struct http_response *resp)
{
	static const char *const keys[] = {NULL};
	struct domain *d = ((struct vmm_api *)ctx)->dom;
	json_t *j = vmm_api_body(req, resp, keys);
	struct stat st;
	uint64_t bytes;
	unsigned vcpus;
	int r;

	if (!j)
		return;
	json_decref(j);
	if (req->nr_fds != 1 || fstat(req->fds[0], &st) < 0 || !S_ISREG(st.st_mode))
		return api_error(resp, 400, "pass the core file, a regular file open for writing, "
				 "as one descriptor (SCM_RIGHTS): capsule control SOCK dump-core FILE");
	if ((r = core_dump(d, req->fds[0], &bytes, &vcpus)))
		return r == -EBADF || r == -EINVAL || r == -ENOSPC || r == -EIO || r == -EFBIG
			       ? api_error(resp, 500, "dump-core: cannot write the file: %s",
					   strerror(-r))
			       : fail(resp, r, "dump-core");
	vmm_api_reply(resp, 200, json_pack("{s:I, s:i}", "bytes", (json_int_t)bytes, "vcpus",
					   (int)vcpus));
}

/* On a vCPU thread: one line for vm.events. */
void vm_api_watch_event(void *opaque, const struct watch_event *e)
{
	struct vmm_api *a = opaque;
	char line[512], insn[2 * sizeof(e->insn) + 1];

	for (unsigned i = 0; i < e->insn_len; i++)
		snprintf(insn + 2 * i, 3, "%02x", e->insn[i]);
	insn[2 * e->insn_len] = 0;
	snprintf(line, sizeof(line), "{\"event\":\"watch\",\"domain\":\"%s\",\"watch\":%llu,"
		 "\"vcpu\":%u,\"address\":\"0x%llx\",\"len\":%u,\"rip\":\"0x%llx\","
		 "\"insn\":\"%s\",\"paused\":%s}\n", a->dom->cfg.name,
		 (unsigned long long)e->id, e->vcpu, (unsigned long long)e->addr, e->len,
		 (unsigned long long)e->rip, insn, e->paused ? "true" : "false");
	api_stream_send(a->server, line);
}
