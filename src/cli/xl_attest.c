/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsule attest NAME: capsuled's signed statement of a domain's launch measurement; and
 * capsule verify-attestation FILE --pubkey KEY: its check, with nothing but the file, the
 * host's public key and libcrypto (docs/measured-launch.md).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsule/attest.h"
#include "xl.h"

int cmd_attest(int argc, char **argv)
{
	const char *name = NULL, *nonce = NULL;
	bool pubkey = false;
	struct httpc_reply r;
	char path[512];
	struct xl x;
	int rc = xl_init(&x, argc, argv, "[-S SOCKET] NAME [--nonce HEX]\n       capsule attest "
			 "[-S SOCKET] --pubkey\n\nA statement of the domain's launch measurement "
			 "signed with the host key\n(docs/measured-launch.md), as JSON; --pubkey: "
			 "the host's public key (PEM).");

	if (rc)
		return rc < 0 ? 2 : 0;
	for (int i = 1; i < x.argc; i++) {
		if (!strcmp(x.argv[i], "--nonce") && i + 1 < x.argc)
			nonce = x.argv[++i];
		else if (!strcmp(x.argv[i], "--pubkey"))
			pubkey = true;
		else if (x.argv[i][0] != '-' && !name)
			name = x.argv[i];
		else {
			fprintf(stderr, "usage: capsule attest NAME [--nonce HEX], or capsule attest "
				"--pubkey\n");
			return 2;
		}
	}
	if (pubkey == !!name) {
		fprintf(stderr, "usage: capsule attest NAME [--nonce HEX], or capsule attest --pubkey\n");
		return 2;
	}
	if (pubkey) {
		json_t *j;

		if (xl_call(&x, "GET", "/api/v1/daemon.attest-key", NULL, NULL, 0, &r))
			return 1;
		j = json_loads(r.body, 0, NULL);
		fputs(json_string_value(json_object_get(j, "public_key")) ?: "", stdout);
		json_decref(j);
		httpc_reply_free(&r);
		return 0;
	}
	if (nonce && (!nonce[0] || strlen(nonce) > 128 ||
		      strspn(nonce, "0123456789abcdefABCDEF") != strlen(nonce))) {
		fprintf(stderr, "capsule attest: --nonce: 1 to 128 hexadecimal digits\n");
		return 2;
	}
	if (xl_dom_path(&x, "/api/v1/domain.attest", name, path, sizeof(path)))
		return 1;
	if (nonce)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "&nonce=%s", nonce);
	if (xl_call(&x, "GET", path, NULL, NULL, 0, &r))
		return 1;
	xl_print_json(r.body);
	httpc_reply_free(&r);
	return 0;
}

static char *read_text(const char *path, size_t max)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(max + 1);
	n = buf ? fread(buf, 1, max + 1, f) : 0;
	fclose(f);
	if (!buf || n > max) {
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

int cmd_verify_attestation(int argc, char **argv)
{
	const char *file = NULL, *key = NULL, *want_m = NULL, *want_nonce = NULL, *sig, *stext;
	char *doc = NULL, *pem = NULL, err[256];
	json_t *j = NULL, *st = NULL;
	int rc = 1, ok;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pubkey") && i + 1 < argc)
			key = argv[++i];
		else if (!strcmp(argv[i], "--measurement") && i + 1 < argc)
			want_m = argv[++i];
		else if (!strcmp(argv[i], "--nonce") && i + 1 < argc)
			want_nonce = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: capsule verify-attestation FILE --pubkey KEY [--measurement HEX] "
			       "[--nonce HEX]\n\nCheck a statement from 'capsule attest' with the "
			       "host's public key (PEM): exit 0 if the\nsignature holds (and the "
			       "measurement and nonce are the ones given), 1 if not.\n");
			return 0;
		} else if (argv[i][0] != '-' && !file)
			file = argv[i];
		else
			file = NULL, i = argc;
	}
	if (!file || !key) {
		fprintf(stderr, "usage: capsule verify-attestation FILE --pubkey KEY "
			"[--measurement HEX] [--nonce HEX]\n");
		return 2;
	}
	if (!(doc = read_text(file, 1 << 20)) || !(pem = read_text(key, 16384))) {
		fprintf(stderr, "capsule verify-attestation: cannot read %s: %s\n", doc ? key : file,
			strerror(errno));
		goto out;
	}
	j = json_loads(doc, 0, NULL);
	stext = json_string_value(json_object_get(j, "statement"));
	sig = json_string_value(json_object_get(j, "signature"));
	if (!stext || !sig) {
		fprintf(stderr, "capsule verify-attestation: %s: not a statement from capsule attest "
			"(no \"statement\" and \"signature\")\n", file);
		goto out;
	}
	ok = attest_verify(pem, stext, strlen(stext), sig, err, sizeof(err));
	if (ok < 0) {
		fprintf(stderr, "capsule verify-attestation: %s\n", err);
		goto out;
	}
	if (!ok) {
		printf("attestation: BAD signature: the statement was not signed by that key, or "
		       "was changed\n");
		goto out;
	}
	st = json_loads(stext, 0, NULL);
	const char *m = json_string_value(json_object_get(st, "measurement"));
	const char *nonce = json_string_value(json_object_get(st, "nonce"));

	printf("attestation: good signature: domain %s, measurement %s, nonce '%s', time %lld\n",
	       json_string_value(json_object_get(st, "domain")) ?: "?", m ?: "?", nonce ?: "",
	       (long long)json_integer_value(json_object_get(st, "time")));
	if (want_m && (!m || strcasecmp(m, want_m))) {
		printf("attestation: the measurement is not the expected %s\n", want_m);
		goto out;
	}
	if (want_nonce && (!nonce || strcasecmp(nonce, want_nonce))) {
		printf("attestation: the nonce is not %s: a replayed statement?\n", want_nonce);
		goto out;
	}
	rc = 0;
out:
	json_decref(st);
	json_decref(j);
	free(doc);
	free(pem);
	return rc;
}
