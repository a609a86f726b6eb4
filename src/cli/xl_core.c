/* SPDX-License-Identifier: Apache-2.0 */
/* capsule dump-core NAME FILE: an ELF core of the domain, which gdb reads with its image
 * (docs/introspection.md). The CLI opens FILE with the user's rights and passes it on. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "xl.h"

int cmd_dump_core(int argc, char **argv)
{
	struct httpc_reply r = {0};
	char p[256], err[512];
	struct xl x;
	int rc = xl_init(&x, argc, argv, "[-S SOCKET] NAME FILE\n\nWrite an ELF core of the "
			 "domain into FILE: its memory and each vCPU's registers, for gdb\n"
			 "(gdb IMAGE FILE; docs/introspection.md). The domain pauses while it is "
			 "written."), fd, status;

	if (rc)
		return rc < 0 ? 2 : 0;
	if (x.argc != 3) {
		fprintf(stderr, "usage: capsule dump-core NAME FILE\n");
		return 2;
	}
	if (xl_dom_path(&x, "/api/v1/domain.dump-core", x.argv[1], p, sizeof(p)))
		return 1;
	fd = open(x.argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "capsule dump-core: cannot open %s: %s\n", x.argv[2],
			strerror(errno));
		return 1;
	}
	status = httpc_request_fds(x.sock, "PUT", p, NULL, "{}", 2, &fd, 1, 600000, &r, err,
				   sizeof(err));
	close(fd);
	if (status < 0)
		xl_conn_error(&x, status, err);
	else if (status >= 300)
		fprintf(stderr, "capsule dump-core: %s\n", httpc_error_text(r.body, err, sizeof(err)));
	else
		printf("core of %s in %s %s\n", x.argv[1], x.argv[2], r.body ? r.body : "");
	httpc_reply_free(&r);
	if (status != 200)
		unlink(x.argv[2]);
	return status == 200 ? 0 : 1;
}
