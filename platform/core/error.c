/* error.c - weir_strerror() and weir_err_name() from the one WEIR_ERRNO_MAP list. */
#include <weir/error.h>

const char *weir_strerror(int err)
{
	if (err >= 0)
		return "success";
	switch (err) {
#define WEIR__ERR_STR(name, num, str)                                                              \
	case WEIR_##name:                                                                          \
		return str;
		WEIR_ERRNO_MAP(WEIR__ERR_STR)
#undef WEIR__ERR_STR
	default:
		return "unknown error";
	}
}

const char *weir_err_name(int err)
{
	switch (err) {
#define WEIR__ERR_NAME(name, num, str)                                                             \
	case WEIR_##name:                                                                          \
		return "WEIR_" #name;
		WEIR_ERRNO_MAP(WEIR__ERR_NAME)
#undef WEIR__ERR_NAME
	default:
		return err >= 0 ? "OK" : "WEIR_E?";
	}
}
