#include "lifecycle/health.h"

#include <string.h>

static const char *const class_names[HEALTH_CLASSES] = {
	"unknown", "healthy", "degraded", "critical", "unreachable",
};

const char *health_class_name(enum health_class c)
{
	return (unsigned)c < HEALTH_CLASSES ? class_names[c] : "unknown";
}

int health_alert_is_of(const struct prom_alert *a, const struct target *t)
{
	return !strcmp(a->client_id, t->client_id) && !strcmp(a->kind, target_kind_name(t->kind)) &&
	       !strcmp(a->instance, t->address) && !strcmp(a->service, t->name ? t->name : "");
}

enum health_class health_classify(const struct target *t, const char *up, const struct prom_alert *alerts,
				  size_t nalerts)
{
	enum health_class c;

	if (!strcmp(up, "down"))
		return HEALTH_UNREACHABLE;
	if (strcmp(up, "up"))
		return HEALTH_UNKNOWN;
	c = HEALTH_HEALTHY;
	for (size_t i = 0; i < nalerts; i++) {
		const struct prom_alert *a = &alerts[i];

		if (strcmp(a->state, "firing") || !health_alert_is_of(a, t))
			continue;
		if (!strcmp(a->severity, "critical"))
			c = HEALTH_CRITICAL;
		else if (c < HEALTH_DEGRADED)
			c = HEALTH_DEGRADED;
	}
	return c;
}
