/* test_lwip_fixes.c - (being written) */
#include "../weir_tests.h"

Suite *weir_test_lwipfix_suite(void)
{
	Suite *s = suite_create("lwipfix");
	return s;
}
