#include "collect/series.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

/* The first label called name; a series has a handful, so a scan is enough. */
const char *series_label(const struct series *s, const char *name)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return NULL;
}

struct series *series_set_append(struct series_set *set)
{
	struct series *s;

	set->items = xrealloc(set->items, (set->n + 1) * sizeof(*set->items));
	s = &set->items[set->n++];
	memset(s, 0, sizeof(*s));
	return s;
}

void series_copy_labels(struct series *s, const struct label *labels, size_t n, int with_name)
{
	s->labels = xcalloc(n + 1, sizeof(*s->labels));
	s->nlabels = 0;
	for (size_t i = 0; i < n; i++) {
		if (!with_name && !strcmp(labels[i].name, "__name__"))
			continue;
		s->labels[s->nlabels].name = xstrdup(labels[i].name);
		s->labels[s->nlabels++].value = xstrdup(labels[i].value);
	}
}

void series_set_add_point(struct series_set *set, const struct label *labels, size_t n, int64_t t_ms, double v)
{
	struct series *s = series_set_append(set);

	series_copy_labels(s, labels, n, 0);
	s->t_ms = xmalloc(sizeof(*s->t_ms));
	s->v = xmalloc(sizeof(*s->v));
	s->t_ms[0] = t_ms;
	s->v[0] = v;
	s->n = 1;
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
