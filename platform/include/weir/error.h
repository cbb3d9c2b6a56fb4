/* error.h - weir's error codes: one list, one string table.
 *
 * Every public call returns an int (or ssize_t for byte counts): >= 0 on success, a negative
 * WEIR_E* code on failure. The codes and their strings come from the single WEIR_ERRNO_MAP list
 * below so they cannot drift apart.
 */
#ifndef WEIR_ERROR_H
#define WEIR_ERROR_H

#define WEIR_ERRNO_MAP(X)                                                                          \
	X(EOF, 1, "end of stream: the peer finished sending")                                      \
	X(ECLOSED, 2, "flow or object is closed")                                                  \
	X(ERESET, 3, "connection reset by peer")                                                   \
	X(EREFUSED, 4, "connection refused")                                                       \
	X(ETIMEDOUT, 5, "timed out")                                                               \
	X(ENOADDR, 6, "no address matched")                                                        \
	X(ECANCELED, 7, "operation canceled")                                                      \
	X(ENOMEM, 8, "out of memory or pool exhausted")                                            \
	X(EINVAL, 9, "invalid argument")                                                           \
	X(EADDRINUSE, 10, "address already in use")                                                \
	X(EBUSY, 11, "resource busy (only one stack per process)")                                 \
	X(EIO, 12, "device input/output error")                                                    \
	X(EAGAIN, 13, "resource temporarily unavailable")                                          \
	X(ENOTSUP, 14, "operation not supported")                                                  \
	X(EPERM, 15, "operation not permitted")                                                    \
	X(ENODEV, 16, "no such device")                                                            \
	X(EUNREACH, 17, "network unreachable")                                                     \
	X(EMSGSIZE, 18, "message too long")                                                        \
	X(EPROTO, 19, "protocol error (malformed frame or handshake mismatch)")

enum weir_error {
#define WEIR__ERR_ENUM(name, num, str) WEIR_##name = -(num),
	WEIR_ERRNO_MAP(WEIR__ERR_ENUM)
#undef WEIR__ERR_ENUM
};

/* Returns a static, human-readable string for a weir error code (or "success" for values >= 0,
 * "unknown error" for anything else). Never returns NULL. */
const char *weir_strerror(int err);

/* Returns the code's symbolic name ("WEIR_EINVAL"), or "WEIR_E?" for an unknown code. */
const char *weir_err_name(int err);

/* The argument check public entry points open with (STYLE.md: caller bugs are WEIR_EINVAL, never
 * an abort): returns WEIR_EINVAL from the calling function when cond holds. */
#define WEIR_EINVAL_IF(cond)                                                                       \
	do {                                                                                       \
		if (cond)                                                                          \
			return WEIR_EINVAL;                                                        \
	} while (0)

#endif /* WEIR_ERROR_H */
