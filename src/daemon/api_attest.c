/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsule attest (docs/measured-launch.md): a statement of a domain's launch measurement,
 * as its VMM measured it before the guest's first instruction, signed with the host key
 * (made on first use in the state directory). The statement is a JSON text signed as
 * bytes: a verifier checks exactly what it was given, never a re-serialisation.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capsule/attest.h"

#include "capsule/api.h"
#include "capsule/httpc.h"
#include "daemon.h"

#define NONCE_MAX 128

/* The host key, loaded (or made) under the daemon's lock: two first requests make one. */
static EVP_PKEY *host_key(struct daemon *dm, struct http_response *resp)
{
	char err[512];
	EVP_PKEY *k;

	pthread_mutex_lock(&dm->lock);
	k = attest_host_key(dm->state_dir, err, sizeof(err));
	pthread_mutex_unlock(&dm->lock);
	if (!k)
		api_error(resp, 500, "host key: %s", err);
	return k;
}

void api_attest_key(void *ctx, const struct http_request *req, struct http_response *resp)
{
	EVP_PKEY *k = host_key(ctx, resp);
	char *pem;
	json_t *j;

	(void)req;
	if (!k)
		return;
	pem = attest_public_pem(k);
	EVP_PKEY_free(k);
	j = json_pack("{s:s, s:s}", "algorithm", "ed25519", "public_key", pem ? pem : "");
	free(pem);
	pem = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	api_json(resp, 200, pem ? pem : "{}");
	free(pem);
}

void api_attest(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct daemon *dm = ctx;
	struct httpc_reply r = {0};
	char sock[4200], err[256], nonce[NONCE_MAX + 1] = "", name[64], uuid[37];
	char sig[ATTEST_SIG_MAX], *stext = NULL, *pem = NULL, *text;
	json_t *m = NULL, *st, *out;
	EVP_PKEY *k = NULL;
	struct ddom *d;
	bool live;

	if (query_get(req->query, "nonce", nonce, sizeof(nonce)) &&
	    (!nonce[0] || strspn(nonce, "0123456789abcdefABCDEF") != strlen(nonce))) {
		api_error(resp, 400, "nonce: 1 to %d hexadecimal digits", NONCE_MAX);
		return;
	}
	pthread_mutex_lock(&dm->lock);
	if (!(d = req_domain(dm, req, resp))) {
		pthread_mutex_unlock(&dm->lock);
		return;
	}
	live = d->pidfd >= 0 && d->state != DS_DYING;
	dom_path(dm, d, "api.sock", sock, sizeof(sock));
	snprintf(name, sizeof(name), "%s", d->name);
	snprintf(uuid, sizeof(uuid), "%s", d->uuid);
	pthread_mutex_unlock(&dm->lock);
	if (!live) {
		api_error(resp, 409, "domain %s is not running: only a running domain's VMM "
			  "holds its measurement", name);
		return;
	}
	if (httpc_request(sock, "GET", "/api/v1/vm.measurement", NULL, NULL, 0, 2000, &r, err,
			  sizeof(err)) != 200 || !(m = json_loads(r.body, 0, NULL)) ||
	    !json_is_string(json_object_get(m, "measurement"))) {
		api_error(resp, 502, "the VMM of %s gave no measurement: %s", name,
			  r.body ? r.body : err);
		goto out;
	}
	st = json_pack("{s:s, s:s, s:s, s:O, s:O, s:O, s:O, s:s, s:I}", "format",
		       "capsule-attestation-1", "domain", name, "uuid", uuid, "algorithm",
		       json_object_get(m, "algorithm"), "measurement",
		       json_object_get(m, "measurement"), "events", json_object_get(m, "events"),
		       "config", json_object_get(m, "config"), "nonce", nonce, "time",
		       (json_int_t)time(NULL));
	stext = st ? json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(st);
	if (!stext) {
		api_error(resp, 502, "the VMM of %s gave a malformed measurement", name);
		goto out;
	}
	if (!(k = host_key(dm, resp)))
		goto out;
	if (attest_sign(k, stext, strlen(stext), sig) || !(pem = attest_public_pem(k))) {
		api_error(resp, 500, "cannot sign the statement");
		goto out;
	}
	out = json_pack("{s:s, s:s, s:s, s:s}", "statement", stext, "signature", sig,
			"signature_algorithm", "ed25519", "public_key", pem);
	text = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	api_json(resp, 200, text ? text : "{}");
	free(text);
out:
	EVP_PKEY_free(k);
	free(pem);
	free(stext);
	json_decref(m);
	httpc_reply_free(&r);
}
