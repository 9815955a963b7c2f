#ifndef BENCHMON_HEALTH_H
#define BENCHMON_HEALTH_H

#include <stddef.h>

#include "lib/prom.h"
#include "session/registry.h"

/*
 * The health class of a target, or of a node (the worst of its targets),
 * from what Prometheus says: its scrapes (up) and the firing alerts of the
 * session's rules (render/rules.h) on its series.
 *
 *   unknown      Prometheus does not run, or has not scraped it yet
 *   healthy      up, no alert firing
 *   degraded     a warning firing (slow, stale or flapping scrapes included)
 *   critical     a critical alert firing
 *   unreachable  its last scrape failed
 *
 * Worse classes compare greater.
 */
enum health_class {
	HEALTH_UNKNOWN,
	HEALTH_HEALTHY,
	HEALTH_DEGRADED,
	HEALTH_CRITICAL,
	HEALTH_UNREACHABLE,
};
#define HEALTH_CLASSES 5

const char *health_class_name(enum health_class c);

/* Is alert a about target t's series? */
int health_alert_is_of(const struct prom_alert *a, const struct target *t);

/* The class of target t, whose scrape health is up ("up", "down", "unknown"), among the alerts. */
enum health_class health_classify(const struct target *t, const char *up, const struct prom_alert *alerts,
				  size_t nalerts);

#endif
