/* log.h - leveled logging with a per-component prefix.
 *
 * Each line reads "weir[LEVEL] component: message". A file sets its component once with
 * `#define WEIR_LOG_COMPONENT "tap"` before including this header and then uses weir_log_info()
 * and friends. Lines below the global level cost one comparison.
 */
#ifndef WEIR_LOG_H
#define WEIR_LOG_H

#include <stddef.h>
#include <weir/compiler.h>

enum weir_log_level {
	WEIR_LOG_ERROR = 0,
	WEIR_LOG_WARN = 1,
	WEIR_LOG_INFO = 2,
	WEIR_LOG_DEBUG = 3,
};

/* An int, not the enum: with short enums (ARM EABI) comparisons against it would be always true. */
extern int weir__log_level;

/* Sets the most verbose level that is printed (default WEIR_LOG_INFO). Returns WEIR_EINVAL for a
 * level outside the enum. */
int weir_log_set_level(enum weir_log_level level);
/* Parses "error", "warn", "info" or "debug". Returns 0 or WEIR_EINVAL. */
int weir_log_parse_level(const char *name, enum weir_log_level *out);

void weir_log(enum weir_log_level level, const char *component, const char *fmt, ...)
	WEIR_PRINTF(3, 4);

/* Writes one finished line (no trailing newline) somewhere. Hosted: stderr. A bare-metal image
 * provides its own definition (the hosted one is weak). */
void weir_log_sink(enum weir_log_level level, const char *line, size_t len);

#ifndef WEIR_LOG_COMPONENT
#define WEIR_LOG_COMPONENT "weir"
#endif
#define weir__log_at(lvl, ...)                                                                     \
	do {                                                                                       \
		if ((int)(lvl) <= weir__log_level)                                                 \
			weir_log((lvl), WEIR_LOG_COMPONENT, __VA_ARGS__);                          \
	} while (0)
#define weir_log_error(...) weir__log_at(WEIR_LOG_ERROR, __VA_ARGS__)
#define weir_log_warn(...)  weir__log_at(WEIR_LOG_WARN, __VA_ARGS__)
#define weir_log_info(...)  weir__log_at(WEIR_LOG_INFO, __VA_ARGS__)
#define weir_log_debug(...) weir__log_at(WEIR_LOG_DEBUG, __VA_ARGS__)

#endif /* WEIR_LOG_H */
