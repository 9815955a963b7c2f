#include "collect/exprread.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

enum node_kind { NODE_NUMBER, NODE_SELECTOR, NODE_NEGATE, NODE_FUNCTION, NODE_BINARY };

enum op { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_EQ, OP_NE, OP_GT, OP_LT, OP_GE, OP_LE, OP_AND, OP_UNLESS };

enum function { FN_ABS, FN_CEIL, FN_FLOOR, FN_CLAMP, FN_CLAMP_MAX, FN_CLAMP_MIN };

/* One series an instant vector node may give: the selector series it comes from, with or without __name__. */
struct slot {
	const struct series *src;
	int named;
	char *sig;          /* its labels but __name__: what one-to-one matching and set operators compare */
};

struct expr_node {
	enum node_kind kind;
	double number;                 /* NODE_NUMBER, or a folded constant */
	size_t sel;                    /* NODE_SELECTOR: index into expr_read.sels */
	enum function fn;
	double args[2];                /* NODE_FUNCTION: the clamps' bounds */
	enum op op;
	struct expr_node *a, *b;
	/* bound to the data */
	struct slot *slots;
	size_t nslots;
	size_t **match;                /* NODE_BINARY of two vectors: for a's slot i, b's slots of its signature */
	size_t *nmatch;
	const struct expr_dense *dense; /* NODE_SELECTOR: its slots' series */
	/* at the current step */
	double *val;
	unsigned char *has;
};

/* ---- parsing ---- */

/* deeper nesting than any profile needs; a deeper one is left to Prometheus */
#define MAX_DEPTH 64

struct parser {
	const char *p;
	struct expr_read *e;
	int fail;
	int depth;
};

static int ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static int ident_char(char c)
{
	return ident_start(c) || (c >= '0' && c <= '9');
}

static void skip_space(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static struct expr_node *node_new(enum node_kind kind)
{
	struct expr_node *n = xcalloc(1, sizeof(*n));

	n->kind = kind;
	return n;
}

static void node_free(struct expr_node *n)
{
	if (!n)
		return;
	node_free(n->a);
	node_free(n->b);
	for (size_t i = 0; i < n->nslots; i++) {
		free(n->slots[i].sig);
		if (n->match)
			free(n->match[i]);
	}
	free(n->slots);
	free(n->match);
	free(n->nmatch);
	free(n->val);
	free(n->has);
	free(n);
}

static struct expr_node *fail(struct parser *ps, struct expr_node *n)
{
	ps->fail = 1;
	node_free(n);
	return NULL;
}

/* The end of the {...} at p (quotes respected), or NULL. */
static const char *skip_matchers(const char *p)
{
	for (p++; *p && *p != '}'; p++) {
		if (*p == '"' || *p == '\'' || *p == '`') {
			char q = *p;

			for (p++; *p && *p != q; p++)
				if (*p == '\\' && q != '`' && p[1])
					p++;
			if (!*p)
				return NULL;
		}
	}
	return *p ? p + 1 : NULL;
}

static int word_is(const char *w, size_t n, const char *s)
{
	return strlen(s) == n && !strncmp(w, s, n);
}

static struct expr_node *parse_expr(struct parser *ps);

static struct expr_node *parse_selector(struct parser *ps, const char *start)
{
	const char *end = ps->p;
	struct expr_node *n;
	struct expr_read *e = ps->e;

	if (*end == '{' && !(end = skip_matchers(end)))
		return fail(ps, NULL);
	ps->p = end;
	skip_space(ps);
	if (*ps->p == '[' || *ps->p == '@' || !strncmp(ps->p, "offset", 6))
		return fail(ps, NULL);
	n = node_new(NODE_SELECTOR);
	n->sel = e->nsels;
	e->sels = xrealloc(e->sels, (e->nsels + 1) * sizeof(*e->sels));
	e->sels[e->nsels++] = xstrndup(start, (size_t)(end - start));
	return n;
}

static struct expr_node *parse_function(struct parser *ps, const char *name, size_t len)
{
	static const struct {
		const char *name;
		enum function fn;
		size_t nargs;
	} fns[] = { { "abs", FN_ABS, 0 }, { "ceil", FN_CEIL, 0 }, { "floor", FN_FLOOR, 0 },
		    { "clamp", FN_CLAMP, 2 }, { "clamp_max", FN_CLAMP_MAX, 1 }, { "clamp_min", FN_CLAMP_MIN, 1 } };
	struct expr_node *n;
	size_t f;

	for (f = 0; f < sizeof(fns) / sizeof(fns[0]) && !word_is(name, len, fns[f].name); f++)
		;
	if (f == sizeof(fns) / sizeof(fns[0]))
		return fail(ps, NULL);
	ps->p++; /* ( */
	n = node_new(NODE_FUNCTION);
	n->fn = fns[f].fn;
	if (!(n->a = parse_expr(ps)) || n->a->kind == NODE_NUMBER)
		return fail(ps, n);
	for (size_t i = 0; i < fns[f].nargs; i++) {
		struct expr_node *arg;

		skip_space(ps);
		if (*ps->p != ',')
			return fail(ps, n);
		ps->p++;
		arg = parse_expr(ps);
		if (!arg || arg->kind != NODE_NUMBER) {
			node_free(arg);
			return fail(ps, n);
		}
		n->args[i] = arg->number;
		node_free(arg);
	}
	skip_space(ps);
	if (*ps->p != ')')
		return fail(ps, n);
	ps->p++;
	return n;
}

static struct expr_node *parse_primary(struct parser *ps)
{
	const char *start;
	struct expr_node *n;

	skip_space(ps);
	start = ps->p;
	if (*ps->p == '(') {
		ps->p++;
		n = parse_expr(ps);
		skip_space(ps);
		if (!n || *ps->p != ')')
			return fail(ps, n);
		ps->p++;
		return n;
	}
	if ((*ps->p >= '0' && *ps->p <= '9') || (*ps->p == '.' && ps->p[1] >= '0' && ps->p[1] <= '9')) {
		char *end;

		n = node_new(NODE_NUMBER);
		n->number = strtod(ps->p, &end);
		ps->p = end;
		return n;
	}
	if (*ps->p == '{')
		return parse_selector(ps, start);
	if (!ident_start(*ps->p))
		return fail(ps, NULL);
	while (ident_char(*ps->p))
		ps->p++;
	{
		size_t len = (size_t)(ps->p - start);
		static const char *const reserved[] = { "and", "or", "unless", "bool", "on", "ignoring", "group_left",
							"group_right", "by", "without", "offset", "inf", "nan", "Inf",
							"NaN" };

		for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
			if (word_is(start, len, reserved[i]))
				return fail(ps, NULL);
		skip_space(ps);
		if (*ps->p == '(')
			return parse_function(ps, start, len);
		ps->p = start + len;
		return parse_selector(ps, start);
	}
}

static struct expr_node *parse_unary(struct parser *ps)
{
	int minus;
	struct expr_node *a, *n;

	skip_space(ps);
	if (*ps->p != '-' && *ps->p != '+')
		return parse_primary(ps);
	if (++ps->depth > MAX_DEPTH)
		return fail(ps, NULL);
	minus = *ps->p++ == '-';
	a = parse_unary(ps);
	ps->depth--;
	if (!a || !minus)
		return a;
	if (a->kind == NODE_NUMBER) {
		a->number = -a->number;
		return a;
	}
	n = node_new(NODE_NEGATE);
	n->a = a;
	return n;
}

static double arith(enum op op, double x, double y)
{
	switch (op) {
	case OP_ADD: return x + y;
	case OP_SUB: return x - y;
	case OP_MUL: return x * y;
	case OP_DIV: return x / y;
	default: return fmod(x, y);
	}
}

static int compare(enum op op, double x, double y)
{
	switch (op) {
	case OP_EQ: return x == y;
	case OP_NE: return x != y;
	case OP_GT: return x > y;
	case OP_LT: return x < y;
	case OP_GE: return x >= y;
	default: return x <= y;
	}
}

static int is_comparison(enum op op)
{
	return op >= OP_EQ && op <= OP_LE;
}

/* a op b, constants folded; two numbers compared is a PromQL error (it needs bool): not ours. */
static struct expr_node *binary(struct parser *ps, enum op op, struct expr_node *a, struct expr_node *b)
{
	struct expr_node *n;

	if (!a || !b) {
		node_free(a);
		return fail(ps, b);
	}
	if (a->kind == NODE_NUMBER && b->kind == NODE_NUMBER) {
		if (is_comparison(op) || op >= OP_AND) {
			node_free(a);
			return fail(ps, b);
		}
		a->number = arith(op, a->number, b->number);
		node_free(b);
		return a;
	}
	if (op >= OP_AND && (a->kind == NODE_NUMBER || b->kind == NODE_NUMBER)) {
		node_free(a);
		return fail(ps, b);
	}
	n = node_new(NODE_BINARY);
	n->op = op;
	n->a = a;
	n->b = b;
	return n;
}

/* Operator text at p of one precedence level: its op and length, or 0. */
static size_t match_op(const char *p, int level, enum op *op)
{
	static const struct {
		const char *text;
		enum op op;
		int level;
	} ops[] = { { "and", OP_AND, 0 }, { "unless", OP_UNLESS, 0 }, { "==", OP_EQ, 1 }, { "!=", OP_NE, 1 },
		    { ">=", OP_GE, 1 }, { "<=", OP_LE, 1 }, { ">", OP_GT, 1 }, { "<", OP_LT, 1 },
		    { "+", OP_ADD, 2 }, { "-", OP_SUB, 2 }, { "*", OP_MUL, 3 }, { "/", OP_DIV, 3 },
		    { "%", OP_MOD, 3 } };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t len = strlen(ops[i].text);

		if (ops[i].level != level || strncmp(p, ops[i].text, len))
			continue;
		if (ident_start(ops[i].text[0]) && ident_char(p[len]))
			continue;
		*op = ops[i].op;
		return len;
	}
	return 0;
}

static struct expr_node *parse_level(struct parser *ps, int level)
{
	struct expr_node *a = level == 4 ? parse_unary(ps) : parse_level(ps, level + 1);

	while (a) {
		enum op op;
		size_t len;
		const char *after;

		skip_space(ps);
		if (!(len = match_op(ps->p, level, &op)))
			break;
		ps->p += len;
		/* bool, on (...) or ignoring (...) change the matching: not ours */
		skip_space(ps);
		after = ps->p;
		while (ident_char(*after))
			after++;
		if (word_is(ps->p, (size_t)(after - ps->p), "bool") || word_is(ps->p, (size_t)(after - ps->p), "on") ||
		    word_is(ps->p, (size_t)(after - ps->p), "ignoring") ||
		    word_is(ps->p, (size_t)(after - ps->p), "group_left") ||
		    word_is(ps->p, (size_t)(after - ps->p), "group_right"))
			return fail(ps, a);
		a = binary(ps, op, a, level == 4 ? parse_unary(ps) : parse_level(ps, level + 1));
	}
	return a;
}

static struct expr_node *parse_expr(struct parser *ps)
{
	struct expr_node *n;

	if (ps->fail || ++ps->depth > MAX_DEPTH)
		return fail(ps, NULL);
	n = parse_level(ps, 0);
	ps->depth--;
	return n;
}

/* ---- binding to the data, and evaluation ---- */

static char *signature(const struct series *s)
{
	struct strbuf sb = STRBUF_INIT;

	/* labels come sorted by name from remote read */
	for (size_t i = 0; i < s->nlabels; i++) {
		if (!strcmp(s->labels[i].name, "__name__"))
			continue;
		strbuf_addstr(&sb, s->labels[i].name);
		strbuf_addch(&sb, '\x01');
		strbuf_addstr(&sb, s->labels[i].value);
		strbuf_addch(&sb, '\x02');
	}
	return strbuf_detach(&sb, NULL);
}

static void add_slot(struct expr_node *n, const struct series *src, int named)
{
	n->slots = xrealloc(n->slots, (n->nslots + 1) * sizeof(*n->slots));
	n->slots[n->nslots].src = src;
	n->slots[n->nslots].named = named;
	n->slots[n->nslots].sig = signature(src);
	n->nslots++;
}

/* Each node's slots, from the selectors' series up (numbers have none). */
static void bind(struct expr_node *n, const struct expr_selector *sels)
{
	if (n->a)
		bind(n->a, sels);
	if (n->b)
		bind(n->b, sels);
	switch (n->kind) {
	case NODE_NUMBER:
		return;
	case NODE_SELECTOR:
		n->dense = sels[n->sel].items;
		for (size_t i = 0; i < sels[n->sel].n; i++)
			add_slot(n, &sels[n->sel].items[i].labels, 1);
		break;
	case NODE_NEGATE:
	case NODE_FUNCTION:
		for (size_t i = 0; i < n->a->nslots; i++)
			add_slot(n, n->a->slots[i].src, 0);
		break;
	case NODE_BINARY: {
		const struct expr_node *v = n->a->kind == NODE_NUMBER ? n->b : n->a;
		/* filters and set operators keep the vector's series as they are; arithmetic drops the name */
		int keep = is_comparison(n->op) || n->op >= OP_AND;

		for (size_t i = 0; i < v->nslots; i++)
			add_slot(n, v->slots[i].src, keep && v->slots[i].named);
		if (n->a->kind == NODE_NUMBER || n->b->kind == NODE_NUMBER)
			break;
		n->match = xcalloc(n->nslots + 1, sizeof(*n->match));
		n->nmatch = xcalloc(n->nslots + 1, sizeof(*n->nmatch));
		for (size_t i = 0; i < n->nslots; i++) {
			n->match[i] = xcalloc(n->b->nslots + 1, sizeof(size_t));
			for (size_t j = 0; j < n->b->nslots; j++)
				if (!strcmp(n->a->slots[i].sig, n->b->slots[j].sig))
					n->match[i][n->nmatch[i]++] = j;
		}
		break;
	}
	}
	n->val = xcalloc(n->nslots + 1, sizeof(double));
	n->has = xcalloc(n->nslots + 1, 1);
}

/* Go's math.Min and math.Max, which PromQL's clamps use: NaN wins. */
static double go_min(double x, double y)
{
	return isnan(x) || isnan(y) ? NAN : x < y ? x : y;
}

static double go_max(double x, double y)
{
	return isnan(x) || isnan(y) ? NAN : x > y ? x : y;
}

static double apply_function(const struct expr_node *n, double v)
{
	switch (n->fn) {
	case FN_ABS: return fabs(v);
	case FN_CEIL: return ceil(v);
	case FN_FLOOR: return floor(v);
	case FN_CLAMP: return go_max(n->args[0], go_min(n->args[1], v));
	case FN_CLAMP_MAX: return go_min(n->args[0], v);
	default: return go_max(n->args[0], v);
	}
}

/* n's values at step `at` of the window grid (display 0) or of the display grid; -1 for a PromQL error (*why set). */
static int eval(struct expr_node *n, size_t at, int display, const char **why)
{
	if ((n->a && eval(n->a, at, display, why) < 0) || (n->b && eval(n->b, at, display, why) < 0))
		return -1;
	for (size_t i = 0; i < n->nslots; i++) {
		n->has[i] = 0;
		switch (n->kind) {
		case NODE_NUMBER:
			break;
		case NODE_SELECTOR: {
			const struct expr_dense *d = &n->dense[i];

			n->has[i] = display ? d->dh[at] : d->wh[at];
			n->val[i] = display ? d->dv[at] : d->wv[at];
			break;
		}
		case NODE_NEGATE:
			n->has[i] = n->a->has[i];
			n->val[i] = -n->a->val[i];
			break;
		case NODE_FUNCTION:
			/* clamp with its bounds the wrong way round gives nothing */
			n->has[i] = n->a->has[i] && !(n->fn == FN_CLAMP && n->args[0] > n->args[1]);
			n->val[i] = apply_function(n, n->a->val[i]);
			break;
		case NODE_BINARY:
			if (n->a->kind == NODE_NUMBER || n->b->kind == NODE_NUMBER) {
				int swap = n->a->kind == NODE_NUMBER;
				const struct expr_node *v = swap ? n->b : n->a;
				double x = swap ? n->a->number : v->val[i], y = swap ? v->val[i] : n->b->number;

				if (!v->has[i])
					break;
				if (is_comparison(n->op)) {
					/* a filter keeps the vector's value, on either side */
					n->has[i] = (unsigned char)compare(n->op, x, y);
					n->val[i] = v->val[i];
				} else {
					n->has[i] = 1;
					n->val[i] = arith(n->op, x, y);
				}
			} else {
				size_t present = 0, j = 0;

				for (size_t m = 0; m < n->nmatch[i]; m++)
					if (n->b->has[n->match[i][m]]) {
						present++;
						j = n->match[i][m];
					}
				if (!n->a->has[i])
					break;
				if (n->op == OP_AND || n->op == OP_UNLESS) {
					n->has[i] = (unsigned char)((present > 0) == (n->op == OP_AND));
					n->val[i] = n->a->val[i];
					break;
				}
				if (!present)
					break;
				if (present > 1) {
					*why = "several series on the right match one on the left";
					return -1;
				}
				if (is_comparison(n->op)) {
					n->has[i] = (unsigned char)compare(n->op, n->a->val[i], n->b->val[j]);
					n->val[i] = n->a->val[i];
				} else {
					n->has[i] = 1;
					n->val[i] = arith(n->op, n->a->val[i], n->b->val[j]);
				}
			}
			break;
		}
	}
	return 0;
}

/* ---- the plan and the results ---- */

static int is_single_selector(const struct expr_node *n)
{
	return n->kind == NODE_SELECTOR;
}

/*
 * A selector's sink: as samples stream in, each step of both grids before
 * the newest sample is settled from the one before it (the latest at or
 * before the step), if it is fresh: no older than the grid's step less 1 ms.
 */
static void selector_settle(struct expr_selector *sel, int64_t t)
{
	const struct expr_read *e = sel->e;
	struct expr_dense *d = &sel->items[sel->n - 1];

	for (; sel->wi < e->nw; sel->wi++) {
		int64_t at = e->first_ms + (int64_t)sel->wi * e->interval_ms;

		if (at >= t)
			break;
		if (sel->have_last && sel->last_t > at - e->interval_ms) {
			d->wh[sel->wi] = 1;
			d->wv[sel->wi] = sel->last_v;
		}
	}
	for (; sel->di < e->dw.nsteps; sel->di++) {
		int64_t at = e->dw.start_ms + (int64_t)sel->di * e->dw.step_ms;

		if (at >= t)
			break;
		if (sel->have_last && sel->last_t > at - e->dw.step_ms) {
			d->dh[sel->di] = 1;
			d->dv[sel->di] = sel->last_v;
		}
	}
}

static void selector_begin(void *ctx, const struct label *labels, size_t n)
{
	struct expr_selector *sel = ctx;
	const struct expr_read *e = sel->e;
	struct expr_dense *d;

	sel->items = xrealloc(sel->items, (sel->n + 1) * sizeof(*sel->items));
	d = &sel->items[sel->n++];
	memset(d, 0, sizeof(*d));
	series_copy_labels(&d->labels, labels, n, 1);
	d->wv = xmalloc((e->nw + 1) * sizeof(double));
	d->wh = xcalloc(e->nw + 1, 1);
	d->dv = xmalloc((e->dw.nsteps + 1) * sizeof(double));
	d->dh = xcalloc(e->dw.nsteps + 1, 1);
	sel->wi = sel->di = 0;
	sel->have_last = 0;
}

static void selector_samples(void *ctx, const int64_t *t, const double *v, size_t n)
{
	struct expr_selector *sel = ctx;

	for (size_t i = 0; i < n; i++) {
		selector_settle(sel, t[i]);
		sel->last_t = t[i];
		sel->last_v = v[i];
		sel->have_last = 1;
	}
}

static void selector_end(void *ctx)
{
	selector_settle(ctx, INT64_MAX);
}

int expr_read_plan(struct expr_read *e, const struct kpi_def *k, const char *expr, int64_t interval_ms,
		   const char *base, const struct kpi_window *w, const struct kpi_window *dw, struct query_list *l)
{
	struct parser ps = { expr, e, 0, 0 };
	int64_t start;
	size_t n0 = l->n;

	memset(e, 0, sizeof(*e));
	e->root = parse_expr(&ps);
	skip_space(&ps);
	if (ps.fail || !e->root || *ps.p || e->root->kind == NODE_NUMBER || is_single_selector(e->root) ||
	    interval_ms <= 0)
		goto no;
	e->max = !strcmp(k->kind->over_time, "max");
	e->from_ms = w->from_ms;
	e->end_ms = w->end_ms;
	e->interval_ms = interval_ms;
	e->dw = *dw;
	/* the subquery's steps: the multiples of the interval in [from, end], each looking back an interval */
	e->first_ms = (w->from_ms + interval_ms - 1) / interval_ms * interval_ms;
	e->nw = e->first_ms <= w->end_ms ? (size_t)((w->end_ms - e->first_ms) / interval_ms) + 1 : 0;
	if (e->nw > EXPR_READ_MAX_STEPS)
		goto no;
	start = e->first_ms - interval_ms + 1;
	if (dw->start_ms - dw->step_ms + 1 < start)
		start = dw->start_ms - dw->step_ms + 1;
	e->q = xcalloc(e->nsels + 1, sizeof(*e->q));
	e->selectors = xcalloc(e->nsels + 1, sizeof(*e->selectors));
	for (size_t i = 0; i < e->nsels; i++) {
		struct expr_selector *sel = &e->selectors[i];

		sel->e = e;
		sel->sink = (struct remoteread_sink){ selector_begin, selector_samples, selector_end, sel };
		e->q[i] = query_add_read(l, k->name, xstrdup(e->sels[i]), base, start, w->end_ms, &sel->sink);
		if (e->q[i] == (size_t)-1) {
			/* take back the reads already added */
			while (l->n > n0) {
				struct query *q = &l->items[--l->n];

				free(q->promql);
				free(q->url);
				free(q->read_body);
			}
			goto no;
		}
	}
	return 0;
no:
	expr_read_release(e);
	return -1;
}

static const char *metric_name(const struct series *s)
{
	const char *name = series_label(s, "__name__");

	return name ? name : "";
}

int expr_read_eval(struct expr_read *e, const char *kpi, const struct query_list *l)
{
	struct expr_node *root = e->root;
	size_t n, *group, ngroups = 0;
	double *sum, *comp, *best;
	size_t *count;
	struct series *disp;
	const char *why = NULL;
	int ret = -1;

	(void)l;
	bind(root, e->selectors);
	n = root->nslots;
	/* root slots of one label set (and name, when kept) are one output series, as in the subquery's matrix */
	group = xcalloc(n + 1, sizeof(*group));
	for (size_t i = 0; i < n; i++) {
		size_t j;

		for (j = 0; j < i; j++)
			if (!strcmp(root->slots[i].sig, root->slots[j].sig))
				break;
		/* two series the subquery keeps apart by name, which the _over_time function then drops */
		if (j < i && root->slots[i].named && root->slots[j].named &&
		    strcmp(metric_name(root->slots[i].src), metric_name(root->slots[j].src))) {
			error("KPI '%s': two series of its expression differ only in their metric names", kpi);
			goto out;
		}
		group[i] = j < i ? group[j] : ngroups++;
	}
	sum = xcalloc(ngroups + 1, sizeof(double));
	comp = xcalloc(ngroups + 1, sizeof(double));
	best = xcalloc(ngroups + 1, sizeof(double));
	count = xcalloc(ngroups + 1, sizeof(size_t));
	disp = xcalloc(ngroups + 1, sizeof(*disp));
	for (int pass = 0; pass < 2 && !why; pass++) {
		size_t nsteps = pass ? e->dw.nsteps : e->nw;
		unsigned char *seen = xcalloc(ngroups + 1, 1);

		for (size_t at = 0; at < nsteps && !why; at++) {
			int64_t t = pass ? e->dw.start_ms + (int64_t)at * e->dw.step_ms :
					   e->first_ms + (int64_t)at * e->interval_ms;

			if (eval(root, at, pass, &why) < 0)
				break;
			memset(seen, 0, ngroups);
			for (size_t i = 0; i < n; i++) {
				size_t g = group[i];
				double v = root->val[i];

				if (!root->has[i])
					continue;
				if (seen[g]++) {
					why = "two series with the same labels at one step";
					break;
				}
				if (pass) {
					struct series *d = &disp[g];

					if (!d->t_ms) {
						d->t_ms = xmalloc((e->dw.nsteps + 1) * sizeof(*d->t_ms));
						d->v = xmalloc((e->dw.nsteps + 1) * sizeof(*d->v));
					}
					d->t_ms[d->n] = t;
					d->v[d->n++] = v;
					continue;
				}
				if (!count[g] || v > best[g] || isnan(best[g]))
					best[g] = v;
				{
					/* Prometheus's compensated sum (Neumaier's) */
					double s = sum[g] + v;

					if (fabs(sum[g]) >= fabs(v))
						comp[g] += (sum[g] - s) + v;
					else
						comp[g] += (v - s) + sum[g];
					sum[g] = s;
				}
				count[g]++;
			}
		}
		free(seen);
	}
	if (why) {
		error("KPI '%s': Prometheus would refuse its expression here: %s", kpi, why);
	} else {
		for (size_t g = 0; g < ngroups; g++) {
			const struct series *src;
			size_t i;

			for (i = 0; group[i] != g; i++)
				;
			src = root->slots[i].src;
			/* the _over_time functions drop the metric name */
			if (count[g]) {
				double v = e->max ? best[g] : isinf(sum[g]) ? sum[g] : sum[g] + comp[g];

				series_set_add_point(&e->acc, src->labels, src->nlabels, e->end_ms, v);
				series_set_add_point(&e->counts, src->labels, src->nlabels, e->end_ms, (double)count[g]);
			}
			if (disp[g].n) {
				struct series *d = series_set_append(&e->display);

				*d = disp[g];
				memset(&disp[g], 0, sizeof(disp[g]));
				series_copy_labels(d, src->labels, src->nlabels, 0);
			}
		}
		ret = 0;
	}
	for (size_t g = 0; g < ngroups; g++)
		series_release(&disp[g]);
	free(disp);
	/* evaluated: the selectors' steps can go (their labels stay, the slots point to them) */
	for (size_t i = 0; i < e->nsels; i++)
		for (size_t j = 0; j < e->selectors[i].n; j++) {
			struct expr_dense *d = &e->selectors[i].items[j];

			free(d->wv);
			free(d->wh);
			free(d->dv);
			free(d->dh);
			d->wv = d->dv = NULL;
			d->wh = d->dh = NULL;
		}
	free(sum);
	free(comp);
	free(best);
	free(count);
out:
	free(group);
	return ret;
}

void expr_read_release(struct expr_read *e)
{
	node_free(e->root);
	for (size_t i = 0; i < e->nsels; i++)
		free(e->sels[i]);
	free(e->sels);
	free(e->q);
	for (size_t i = 0; e->selectors && i < e->nsels; i++) {
		for (size_t j = 0; j < e->selectors[i].n; j++) {
			struct expr_dense *d = &e->selectors[i].items[j];

			series_release(&d->labels);
			free(d->wv);
			free(d->wh);
			free(d->dv);
			free(d->dh);
		}
		free(e->selectors[i].items);
	}
	free(e->selectors);
	series_set_release(&e->acc);
	series_set_release(&e->counts);
	series_set_release(&e->display);
	memset(e, 0, sizeof(*e));
}
