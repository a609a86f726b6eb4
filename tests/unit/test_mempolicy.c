/* SPDX-License-Identifier: Apache-2.0 */
/*
 * capsuled's memory policy arithmetic (include/capsule/mempolicy.h): the shares-per-page
 * rule, the idle memory tax, minimums, and refusal of bad inputs; and the private
 * anonymous backing KSM needs (gmem_init_anon).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "capsule/domain.h"
#include "capsule/mem.h"
#include "capsule/mempolicy.h"
#include "capsule/xlcfg.h"

#define IDLE(mx, sh) {.max_mib = (mx), .shares = (sh)}

/* Equal shares, equally idle: the budget splits evenly. */
static void equal_split(void **state)
{
	struct mp_dom d[2] = {IDLE(1000, 100), IDLE(1000, 100)};

	(void)state;
	assert_int_equal(mp_targets(d, 2, 1000, MP_TAU_DEFAULT, 1), 0);
	assert_int_equal(d[0].target_mib + d[1].target_mib, 1000);
	assert_true(d[0].target_mib >= 499 && d[0].target_mib <= 501);
}

/* Shares 2:1, both idle: the memory each keeps is 2:1 (rho equal means S/P equal). */
static void shares_proportion(void **state)
{
	struct mp_dom d[2] = {IDLE(1000, 200), IDLE(1000, 100)};

	(void)state;
	assert_int_equal(mp_targets(d, 2, 900, MP_TAU_DEFAULT, 1), 0);
	assert_true(d[0].target_mib >= 599 && d[0].target_mib <= 601);
	assert_true(d[1].target_mib >= 299 && d[1].target_mib <= 301);
}

/*
 * Same shares, one idle and one using 800 MiB, tau 0.75 (k = 4), budget 1200: reclaim stops
 * where 4 * P_idle = 800 + 4 * (P_busy - 800), i.e. P_idle = P_busy - 600: 300 and 900.
 */
static void idle_pays_the_tax(void **state)
{
	struct mp_dom d[2] = {IDLE(1000, 100), IDLE(1000, 100)};

	(void)state;
	d[1].active_mib = 800;
	assert_int_equal(mp_targets(d, 2, 1200, MP_TAU_DEFAULT, 1), 0);
	assert_true(d[0].target_mib >= 299 && d[0].target_mib <= 301);
	assert_true(d[1].target_mib >= 899 && d[1].target_mib <= 901);
	/* The first MiB reclaimed is the idle domain's. */
	d[0].target_mib = d[1].target_mib = 0;
	assert_int_equal(mp_targets(d, 2, 1999, MP_TAU_DEFAULT, 1), 0);
	assert_int_equal(d[0].target_mib, 999);
	assert_int_equal(d[1].target_mib, 1000);
}

/* tau 0: no tax, activity does not matter, shares alone split the memory. */
static void no_tax(void **state)
{
	struct mp_dom d[2] = {IDLE(1000, 100), IDLE(1000, 100)};

	(void)state;
	d[1].active_mib = 800;
	assert_int_equal(mp_targets(d, 2, 1200, 0.0, 1), 0);
	assert_true(d[0].target_mib >= 599 && d[0].target_mib <= 601);
}

/* A minimum holds however idle the domain; the rest comes from the other. */
static void minimum_holds(void **state)
{
	struct mp_dom d[2] = {IDLE(1000, 100), IDLE(1000, 100)};

	(void)state;
	d[0].min_mib = 500;
	d[1].active_mib = 800;
	assert_int_equal(mp_targets(d, 2, 1200, MP_TAU_DEFAULT, 16), 0);
	assert_int_equal(d[0].target_mib, 500);
	assert_int_equal(d[1].target_mib, 700);
}

/* Not enough even at every minimum: what is still over is returned; fixed domains keep
 * their memory. */
static void shortfall(void **state)
{
	struct mp_dom d[3] = {IDLE(1000, 100), IDLE(1000, 100), IDLE(300, 100)};

	(void)state;
	d[0].min_mib = 400;
	d[1].min_mib = 200;
	d[2].fixed = true;
	assert_int_equal(mp_targets(d, 3, 800, MP_TAU_DEFAULT, 64), 100);
	assert_int_equal(d[0].target_mib, 400);
	assert_int_equal(d[1].target_mib, 200);
	assert_int_equal(d[2].target_mib, 300);
}

/* Enough room: nobody is touched. */
static void fits(void **state)
{
	struct mp_dom d[2] = {IDLE(1000, 1), IDLE(1000, 1)};

	(void)state;
	assert_int_equal(mp_targets(d, 2, 4000, MP_TAU_DEFAULT, 1), 0);
	assert_int_equal(d[0].target_mib, 1000);
	assert_int_equal(d[1].target_mib, 1000);
}

static void bad_inputs(void **state)
{
	struct mp_dom d[1] = {IDLE(1000, 100)};

	(void)state;
	d[0].shares = 0;
	assert_int_equal(mp_targets(d, 1, 10, MP_TAU_DEFAULT, 1), -EINVAL);
	d[0].shares = 1;
	d[0].min_mib = 1001;
	assert_int_equal(mp_targets(d, 1, 10, MP_TAU_DEFAULT, 1), -EINVAL);
	d[0].min_mib = 0;
	assert_int_equal(mp_targets(d, 1, 10, 1.0, 1), -EINVAL);
	assert_int_equal(mp_targets(d, 1, 10, -0.1, 1), -EINVAL);
	assert_int_equal(mp_targets(d, 1, 10, MP_TAU_DEFAULT, 0), -EINVAL);
}

/* rho as the paper writes it: k = 4 at tau 0.75, an all-idle page costs 4 shares' worth. */
static void rho_formula(void **state)
{
	(void)state;
	assert_true(mp_rho(400, 100, 100, 0.75) > 3.999 && mp_rho(400, 100, 100, 0.75) < 4.001);
	assert_true(mp_rho(400, 100, 0, 0.75) > 0.999 && mp_rho(400, 100, 0, 0.75) < 1.001);
	/* half active: f = 0.5, 400 / (100 * (0.5 + 2)) = 1.6 */
	assert_true(mp_rho(400, 100, 50, 0.75) > 1.599 && mp_rho(400, 100, 50, 0.75) < 1.601);
}

/* Private anonymous backing: no file, pages read zero, a discard gives them back zeroed. */
static void anon_backing(void **state)
{
	struct guest_mem m;
	unsigned char v[2];

	(void)state;
	assert_int_equal(gmem_init_anon(&m, 1u << 20), 0);
	assert_int_equal(m.fd, -1);
	assert_true(m.private_file);
	m.host[8192] = 0x5a;
	gmem_discard(&m, 8192, 4096);
	assert_int_equal(gmem_read(&m, 8192, v, 1), 0);
	assert_int_equal(v[0], 0);
	assert_int_equal(gmem_read(&m, (1u << 20) - 1, v, 2), -EFAULT);
	gmem_destroy(&m);
	assert_int_equal(gmem_init_anon(&m, 4097), -EINVAL);
}

/* The same keys in xl.cfg text, passed to the JSON config. */
static void xlcfg_keys(void **state)
{
	static const char good[] = "name = \"a\"\nkernel = \"/x.elf\"\nmemory = 64\n"
				   "maxmem = 128\nmemory_min = 32\nmemory_shares = 500\n"
				   "memory_backing = \"private\"\n";
	static const char bad[] = "memory_shares = 0\n";
	char err[512];
	json_t *cfg = NULL;

	(void)state;
	assert_int_equal(xlcfg_parse(good, strlen(good), &cfg, err, sizeof(err)), 0);
	assert_int_equal(json_integer_value(json_object_get(cfg, "memory_min")), 32);
	assert_int_equal(json_integer_value(json_object_get(cfg, "memory_shares")), 500);
	assert_string_equal(json_string_value(json_object_get(cfg, "memory_backing")), "private");
	assert_int_equal(json_integer_value(json_object_get(cfg, "memory")), 128);
	json_decref(cfg);
	cfg = NULL;
	assert_int_equal(xlcfg_parse(bad, strlen(bad), &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "memory_shares"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(equal_split),
		cmocka_unit_test(shares_proportion),
		cmocka_unit_test(idle_pays_the_tax),
		cmocka_unit_test(no_tax),
		cmocka_unit_test(minimum_holds),
		cmocka_unit_test(shortfall),
		cmocka_unit_test(fits),
		cmocka_unit_test(bad_inputs),
		cmocka_unit_test(rho_formula),
		cmocka_unit_test(anon_backing),
		cmocka_unit_test(xlcfg_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
