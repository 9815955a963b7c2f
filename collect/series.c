#include "collect/series.h"

#include <stdlib.h>
#include <string.h>

/* The first label called name; a series has a handful, so a scan is enough. */
const char *series_label(const struct series *s, const char *name)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return NULL;
}

void series_release(struct series *s)
{
	for (size_t j = 0; j < s->nlabels; j++) {
		free(s->labels[j].name);
		free(s->labels[j].value);
	}
	free(s->labels);
	free(s->t_ms);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Free everything the set owns and leave it empty, ready for reuse. */
void series_set_release(struct series_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		series_release(&set->items[i]);
	free(set->items);
	for (size_t i = 0; i < set->nwarnings; i++)
		free(set->warnings[i]);
	free(set->warnings);
	memset(set, 0, sizeof(*set));
}
