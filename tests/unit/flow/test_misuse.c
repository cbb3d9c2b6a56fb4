/* test_misuse.c - (being written) */
#include "../weir_tests.h"

Suite *weir_test_misuse_suite(void)
{
	Suite *s = suite_create("misuse");
	return s;
}
