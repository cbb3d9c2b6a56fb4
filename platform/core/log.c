/* log.c - formats log lines ("weir[LEVEL] component: message") and hands them to the sink. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <weir/error.h>
#include <weir/log.h>

int weir__log_level = WEIR_LOG_INFO;

static const char *const level_names[] = {
	[WEIR_LOG_ERROR] = "error",
	[WEIR_LOG_WARN] = "warn",
	[WEIR_LOG_INFO] = "info",
	[WEIR_LOG_DEBUG] = "debug",
};

int weir_log_set_level(enum weir_log_level level)
{
	WEIR_EINVAL_IF((unsigned)level > WEIR_LOG_DEBUG);
	weir__log_level = (int)level;
	return 0;
}

int weir_log_parse_level(const char *name, enum weir_log_level *out)
{
	WEIR_EINVAL_IF(name == NULL || out == NULL);
	for (unsigned i = 0; i < WEIR_ARRAY_SIZE(level_names); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum weir_log_level)i;
			return 0;
		}
	}
	return WEIR_EINVAL;
}

void weir_log(enum weir_log_level level, const char *component, const char *fmt, ...)
{
	char line[512];
	int n;
	va_list ap;

	if ((unsigned)level > WEIR_LOG_DEBUG || (int)level > weir__log_level)
		return;
	n = snprintf(line, sizeof(line), "weir[%s] %s: ", level_names[level],
		     component ? component : "weir");
	if (n < 0)
		return;
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* A line longer than the buffer is cut, never split. */
	if (n < 0 || (size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	weir_log_sink(level, line, (size_t)n);
}
