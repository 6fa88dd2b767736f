/*
 * t.h - the test helpers every test program includes.
 *
 * A test program runs named cases.  t_case() opens one, CHECK()/CHECK_EQ()/
 * CHECK_ERR() record failures (with file and line) without stopping, and
 * t_done() closes it with a line "PASS name" or "FAIL name" on stdout, which
 * tests/run.sh counts.  main() ends with "return t_exit();": 0 when every case
 * passed, 1 otherwise.  A program that cannot run here exits 77 (skip).
 */
#ifndef UIPC_TEST_H
#define UIPC_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *t_name;
static int t_case_failed, t_any_failed;

static inline void t_case(const char *name)
{
	t_name = name;
	t_case_failed = 0;
}

static inline void t_done(void)
{
	printf("%s %s\n", t_case_failed ? "FAIL" : "PASS", t_name);
	fflush(stdout);
	t_any_failed |= t_case_failed;
}

static inline int t_exit(void)
{
	return t_any_failed ? 1 : 0;
}

#define T_FAIL(...)                                                        \
	do {                                                               \
		fprintf(stderr, "%s:%d: [%s] ", __FILE__, __LINE__,        \
			t_name ? t_name : "-");                            \
		fprintf(stderr, __VA_ARGS__);                              \
		fputc('\n', stderr);                                       \
		t_case_failed = 1;                                         \
	} while (0)

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond))                                               \
			T_FAIL("check failed: %s", #cond);                 \
	} while (0)

/* Compare two integers of any type, printing both on failure. */
#define CHECK_EQ(a, b)                                                     \
	do {                                                               \
		long long a_ = (long long)(a), b_ = (long long)(b);        \
		if (a_ != b_)                                              \
			T_FAIL("%s == %lld, expected %s == %lld", #a, a_,  \
			       #b, b_);                                    \
	} while (0)

/* A call that must fail with -1 and the given errno. */
#define CHECK_ERR(call, err)                                               \
	do {                                                               \
		errno = 0;                                                 \
		long long r_ = (long long)(call);                          \
		int e_ = errno;                                            \
		if (r_ != -1 || e_ != (err))                               \
			T_FAIL("%s returned %lld errno %s, expected -1 %s", \
			       #call, r_, strerror(e_), strerror(err));    \
	} while (0)

#endif
