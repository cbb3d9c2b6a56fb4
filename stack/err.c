/* err.c - lwIP's err_t as weir error codes: the one translation (STYLE.md). */
#include <weir/error.h>

#include "weir_stack_lwip.h"

int weir__err_from_lwip(err_t e)
{
	switch (e) {
	case ERR_OK:
		return 0;
	case ERR_MEM:
	case ERR_BUF:
		return WEIR_ENOMEM;
	case ERR_USE:
	case ERR_ISCONN:
		return WEIR_EADDRINUSE;
	case ERR_RTE:
		return WEIR_EUNREACH;
	case ERR_RST:
		return WEIR_ERESET;
	case ERR_CLSD:
	case ERR_CONN:
		return WEIR_ECLOSED;
	case ERR_TIMEOUT:
		return WEIR_ETIMEDOUT;
	case ERR_VAL:
	case ERR_ARG:
		return WEIR_EINVAL;
	default:
		return WEIR_EIO;
	}
}
