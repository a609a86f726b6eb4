/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the introspection requests (src/api/vm_introspect.c) on a PV
 * domain built without KVM (src/introspect/): the first 16 KiB of the input are the
 * domain's page tables (hostile: every walk must stay in guest memory), the next byte picks
 * the call, the rest is its JSON body. Every answer is a status and, for 200, JSON.
 * Seeds: tests/fuzz/seeds/fuzz_introspect/.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "capsule/api.h"
#include "capsule/domain.h"
#include "capsule/introspect.h"
#include "capsule/vmm_api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TABLES (16u << 10)

static void (*const calls[])(void *, const struct http_request *, struct http_response *) = {
	vm_api_memory, vm_api_registers, vm_api_translate, vm_api_regions,
	vm_api_watch, vm_api_watch_rearm, vm_api_watch_remove, vm_api_watches,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct domain d;
	static struct vm vm;
	static struct vmm_api api;
	struct http_request req = {0};
	struct http_response resp = {0};
	char *body;
	uint8_t *tables;

	if (!d.vm) {
		struct vm_config cfg = {.mem_bytes = 8u << 20, .nr_vcpus = 1};

		if (vm_init_nokvm(&vm, &cfg))
			abort();
		pthread_mutex_init(&d.lock, NULL);
		d.kind = DOMAIN_PV;
		d.state = DOMAIN_RUNNING;
		d.vm = &vm;
		api.dom = &d;
	}
	if (size < TABLES + 1)
		return 0;
	tables = gmem_vmm_ptr(&vm.mem, CAP_GPA_PAGETABLES, TABLES);
	memcpy(tables, data, TABLES);
	if (!(body = malloc(size - TABLES)))
		return 0;
	memcpy(body, data + TABLES + 1, size - TABLES - 1);
	body[size - TABLES - 1] = 0;
	req.body = body;
	req.body_len = size - TABLES - 1;
	calls[data[TABLES] % (sizeof(calls) / sizeof(calls[0]))](&api, &req, &resp);
	if (resp.status < 200 || resp.status > 599)
		abort();
	if (resp.status == 200) {
		json_t *j = json_loadb(resp.body, resp.body_len, 0, NULL);

		if (!j)
			abort(); /* a 200 is always JSON */
		json_decref(j);
	}
	free(resp.body);
	free(body);
	watch_free(&d); /* each input starts without watches */
	vm.watches = NULL;
	return 0;
}
