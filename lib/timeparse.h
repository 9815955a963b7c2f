#ifndef BENCHMON_TIMEPARSE_H
#define BENCHMON_TIMEPARSE_H

#include <stdint.h>

/*
 * Parsers for the times and durations users type. Each returns 0 on
 * success and -1 with *cause set to a message the caller frees; nothing is
 * printed, so callers can add context such as the flag's name.
 */

/*
 * A duration: "1s", "500ms", "2m", "6h", "1d", "1w" or a Prometheus-style
 * sequence such as "1h30m". A bare number is taken in bare_unit_ms
 * milliseconds (so "--retention 6" can mean six hours). Zero and negative
 * durations are rejected, as are ones over ten years.
 */
int parse_duration_ms(const char *s, int64_t bare_unit_ms, int64_t *out_ms, char **cause);

/* Format ms as a Prometheus duration ("15s", "1500ms", "6h"). Caller frees. */
char *format_duration_ms(int64_t ms);

/*
 * A point in time as Unix milliseconds: RFC 3339 ("2025-10-01T10:00:00Z",
 * "...+02:00", "...10:00:00.250Z"; 't', 'z' and a space separator accepted)
 * or plain epoch seconds, possibly fractional ("1727776800.5").
 */
int parse_time_ms(const char *s, int64_t *out_ms, char **cause);

/* Format Unix milliseconds as RFC 3339 UTC, with milliseconds only when non-zero. */
char *format_time_ms(int64_t ms);

/* No time limit, as Slurm's INFINITE. */
#define TIME_LIMIT_INFINITE UINT32_MAX

/*
 * A Slurm time limit in minutes, in sbatch --time's formats: "MM", "MM:SS",
 * "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS", or "UNLIMITED"/"INFINITE"
 * (TIME_LIMIT_INFINITE). Seconds round up to a minute. Zero, negative and
 * malformed limits are refused, and so are limits over a year.
 */
int parse_slurm_time_limit(const char *s, uint32_t *minutes, char **cause);

/* The current time as Unix milliseconds. */
int64_t now_ms(void);

/* Sleep ms milliseconds, through signals that interrupt it (callers poll their own flags). */
void sleep_ms(int64_t ms);

#endif
