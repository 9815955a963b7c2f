#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"
#include "report/chart.h"

/* Okabe-Ito colours, told apart by colour-blind readers too */
static const char *const colours[] = { "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9" };
/* dash patterns, so that series differ in print and in grey */
static const char *const dashes[] = { "", "7 4", "2 3", "10 3 2 3", "4 2", "1 2" };
#define NSTYLES 6
#define MARKERS_PER_SERIES 6

#define MARGIN_LEFT 64
#define MARGIN_RIGHT 18
#define MARGIN_TOP 46
#define MARGIN_BOTTOM 44

void html_escape(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': strbuf_addstr(sb, "&amp;"); break;
		case '<': strbuf_addstr(sb, "&lt;"); break;
		case '>': strbuf_addstr(sb, "&gt;"); break;
		case '"': strbuf_addstr(sb, "&quot;"); break;
		case '\'': strbuf_addstr(sb, "&#39;"); break;
		default: strbuf_addch(sb, *s);
		}
	}
}

size_t chart_reduce(const double *t, const double *v, size_t n, double t_from, double t_to, size_t buckets,
		    size_t *keep)
{
	size_t nkeep = 0, i = 0;
	double width;

	if (n <= 2 * buckets || buckets == 0 || !(t_to > t_from)) {
		for (i = 0; i < n; i++)
			if (!isnan(v[i]))
				keep[nkeep++] = i;
		return nkeep;
	}
	width = (t_to - t_from) / (double)buckets;
	while (i < n) {
		long b = lrint(floor((t[i] - t_from) / width));
		size_t lo = (size_t)-1, hi = (size_t)-1;

		if (b < 0)
			b = 0;
		if (b >= (long)buckets)
			b = (long)buckets - 1;
		/* the points of column b: those before the next column's left edge */
		for (; i < n; i++) {
			long bi = lrint(floor((t[i] - t_from) / width));

			if (bi > b && b < (long)buckets - 1)
				break;
			if (isnan(v[i]))
				continue;
			if (lo == (size_t)-1 || v[i] < v[lo])
				lo = i;
			if (hi == (size_t)-1 || v[i] > v[hi])
				hi = i;
		}
		if (lo == (size_t)-1)
			continue;
		if (lo == hi) {
			keep[nkeep++] = lo;
		} else {
			keep[nkeep++] = lo < hi ? lo : hi;
			keep[nkeep++] = lo < hi ? hi : lo;
		}
	}
	return nkeep;
}

/* A step of 1, 2, 2.5 or 5 times a power of ten giving about target intervals. */
static double nice_step(double range, int target)
{
	double raw = range / target, p, f;

	if (!(raw > 0) || !isfinite(raw))
		return 1;
	p = pow(10, floor(log10(raw)));
	f = raw / p;
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
}

/* lo and hi widened to whole steps, with 0 in range for values that are all positive */
static double nice_range(double *lo, double *hi, int ticks)
{
	double step;

	if (*lo > 0)
		*lo = 0;
	if (!(*hi > *lo))
		*hi = *lo + 1;
	step = nice_step(*hi - *lo, ticks);
	*lo = floor(*lo / step) * step;
	*hi = ceil(*hi / step) * step;
	return step;
}

static void marker(struct strbuf *sb, int style, double x, double y)
{
	switch (style % 4) {
	case 0:
		strbuf_addf(sb, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\"/>", x, y);
		break;
	case 1:
		strbuf_addf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"7\"/>", x - 3.5, y - 3.5);
		break;
	case 2:
		strbuf_addf(sb, "<path d=\"M%.1f %.1fl4.5 8h-9z\"/>", x, y - 5);
		break;
	default:
		strbuf_addf(sb, "<path d=\"M%.1f %.1fl4.5 4.5l-4.5 4.5l-4.5-4.5z\"/>", x, y - 4.5);
	}
}

/* The legend sample of a style: a stretch of its line with its marker. */
static void legend_entry(struct strbuf *sb, int style, double x, double y, const char *name)
{
	strbuf_addf(sb, "<g class=\"legend\" stroke=\"%s\" fill=\"%s\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		    "stroke-width=\"2\" stroke-dasharray=\"%s\"/>", colours[style % NSTYLES], colours[style % NSTYLES],
		    x, y, x + 28, y, dashes[style % NSTYLES]);
	marker(sb, style, x + 14, y);
	strbuf_addf(sb, "<text x=\"%.1f\" y=\"%.1f\" stroke=\"none\" fill=\"#222\">", x + 34, y + 4);
	html_escape(sb, name);
	strbuf_addstr(sb, "</text></g>");
}

static void svg_open(struct strbuf *sb, int w, int h, const char *title, const char *cls)
{
	strbuf_addf(sb, "<svg class=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
		    "height=\"%d\" role=\"img\" font-family=\"sans-serif\" font-size=\"12\"><title>", cls, w, h, w, h);
	html_escape(sb, title);
	strbuf_addstr(sb, "</title>");
	strbuf_addf(sb, "<text x=\"%d\" y=\"16\" font-size=\"14\" font-weight=\"bold\">", MARGIN_LEFT);
	html_escape(sb, title);
	strbuf_addstr(sb, "</text>");
}

/* Horizontal grid lines and the y axis's labels, from lo to hi by step. */
static void y_axis(struct strbuf *sb, double lo, double hi, double step, int x0, int x1, int y0, int y1,
		   const char *unit)
{
	for (int k = 0;; k++) {
		double v = lo + k * step;
		double y = y0 - (v - lo) / (hi - lo) * (y0 - y1);

		if (v > hi + step / 1000)
			break;
		strbuf_addf(sb, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>", x0, y, x1, y);
		if (fabs(v) < step / 1e6)
			v = 0;
		/* 30000000 reads as 30M, not 3e+07 */
		if (fabs(v) >= 1e9)
			strbuf_addf(sb, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%gG</text>", x0 - 5, y + 4, v / 1e9);
		else if (fabs(v) >= 1e6)
			strbuf_addf(sb, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%gM</text>", x0 - 5, y + 4, v / 1e6);
		else if (fabs(v) >= 1e4)
			strbuf_addf(sb, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%gk</text>", x0 - 5, y + 4, v / 1e3);
		else
			strbuf_addf(sb, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>", x0 - 5, y + 4, v);
	}
	strbuf_addf(sb, "<text transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\">",
		    (y0 + y1) / 2.0);
	html_escape(sb, *unit ? unit : "value");
	strbuf_addstr(sb, "</text>");
	strbuf_addf(sb, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>", x0, y0, x0, y1);
	strbuf_addf(sb, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>", x0, y0, x1, y0);
}

void chart_time(struct strbuf *sb, const struct chart *c)
{
	int x0 = MARGIN_LEFT, x1 = c->width - MARGIN_RIGHT, y0 = c->height - MARGIN_BOTTOM, y1 = MARGIN_TOP;
	size_t buckets = (size_t)(x1 - x0), maxn = 0;
	double lo = INFINITY, hi = -INFINITY, span = c->t_to - c->t_from, scale, xstep, ystep;
	const char *xunit;
	size_t *keep;

	for (size_t s = 0; s < c->nseries; s++) {
		const struct chart_series *se = &c->series[s];

		if (se->n > maxn)
			maxn = se->n;
		for (size_t i = 0; i < se->n; i++) {
			if (isnan(se->v[i]))
				continue;
			if (se->v[i] < lo)
				lo = se->v[i];
			if (se->v[i] > hi)
				hi = se->v[i];
		}
	}
	if (c->fixed_y) {
		lo = c->y_lo;
		hi = c->y_hi;
	}
	if (!isfinite(lo)) {
		lo = 0;
		hi = 1;
	}
	/* a percentage reads best against its whole scale */
	if (!strcmp(c->unit, "%") && lo >= 0 && hi <= 100)
		hi = 100;
	ystep = nice_range(&lo, &hi, c->height >= 240 ? 5 : 3);
	if (!(span > 0))
		span = 1;
	/* elapsed time since the window's start, in a unit that keeps the tick labels short */
	if (span <= 300) {
		scale = 1;
		xunit = "s";
	} else if (span <= 3 * 3600) {
		scale = 60;
		xunit = "min";
	} else {
		scale = 3600;
		xunit = "h";
	}
	xstep = nice_step(span / scale, c->width >= 500 ? 8 : 4);

	svg_open(sb, c->width, c->height, c->title, "chart time");
	y_axis(sb, lo, hi, ystep, x0, x1, y0, y1, c->unit);
	for (int k = 0;; k++) {
		double e = k * xstep, x = x0 + e * scale / span * (x1 - x0);

		if (e * scale > span * 1.0001)
			break;
		strbuf_addf(sb, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#444\"/>", x, y0, x, y0 + 4);
		strbuf_addf(sb, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>", x, y0 + 17, e);
	}
	strbuf_addf(sb, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">time since the window's start (%s)</text>",
		    (x0 + x1) / 2.0, y0 + 36, xunit);

	keep = xcalloc(maxn + 1, sizeof(*keep));
	for (size_t s = 0; s < c->nseries; s++) {
		const struct chart_series *se = &c->series[s];
		size_t nkeep = chart_reduce(se->t, se->v, se->n, c->t_from, c->t_to, buckets, keep);
		/* a gap in the data longer than a few steps (or columns) is left open, not bridged */
		double gap = fmax(3 * (se->n > 1 ? (se->t[se->n - 1] - se->t[0]) / (double)(se->n - 1) : span),
				  2.5 * span / (double)buckets);
		int style = (int)s;

		strbuf_addf(sb, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" stroke-dasharray=\"%s\" "
			    "stroke-linejoin=\"round\" data-kpi=\"", colours[style % NSTYLES], dashes[style % NSTYLES]);
		html_escape(sb, se->key);
		strbuf_addstr(sb, "\" data-scope=\"");
		html_escape(sb, se->scope);
		strbuf_addf(sb, "\" data-n=\"%zu\" data-drawn=\"%zu\" d=\"", se->n, nkeep);
		for (size_t k = 0; k < nkeep; k++) {
			size_t i = keep[k];
			double x = x0 + (se->t[i] - c->t_from) / span * (x1 - x0);
			double y = y0 - (se->v[i] - lo) / (hi - lo) * (y0 - y1);
			int jump = !k || se->t[i] - se->t[keep[k - 1]] > gap;

			strbuf_addf(sb, "%s%.1f %.1f", jump ? "M" : "L", x, y);
		}
		strbuf_addstr(sb, "\" data-points=\"");
		for (size_t k = 0; k < nkeep; k++)
			strbuf_addf(sb, "%s%.3f,%.10g", k ? " " : "", se->t[keep[k]], se->v[keep[k]]);
		strbuf_addstr(sb, "\"><title>");
		html_escape(sb, se->name);
		strbuf_addf(sb, ": %zu points", se->n);
		if (nkeep < se->n)
			strbuf_addf(sb, ", drawn as %zu (each column's minimum and maximum)", nkeep);
		strbuf_addstr(sb, "</title></path>");
		/* a few markers per line, offset per series so that they do not sit on one another */
		strbuf_addf(sb, "<g fill=\"%s\" stroke=\"%s\" class=\"markers\">", colours[style % NSTYLES],
			    colours[style % NSTYLES]);
		for (int m = 0; nkeep && m < MARKERS_PER_SERIES; m++) {
			double f = (m + 0.5 + 0.5 * (double)s / (double)(c->nseries ? c->nseries : 1)) / MARKERS_PER_SERIES;
			size_t i = keep[(size_t)(f * (double)(nkeep - 1))];

			marker(sb, style, x0 + (se->t[i] - c->t_from) / span * (x1 - x0),
			       y0 - (se->v[i] - lo) / (hi - lo) * (y0 - y1));
		}
		strbuf_addstr(sb, "</g>");
	}
	free(keep);
	for (size_t s = 0; s < c->nseries; s++)
		legend_entry(sb, (int)s, x0 + (double)s * (double)(x1 - x0) / (double)c->nseries, 31, c->series[s].name);
	strbuf_addstr(sb, "</svg>\n");
}

void chart_sweep(struct strbuf *sb, const struct chart_sweep *c)
{
	int x0 = MARGIN_LEFT, x1 = c->width - MARGIN_RIGHT, y0 = c->height - MARGIN_BOTTOM, y1 = MARGIN_TOP;
	double lo = INFINITY, hi = -INFINITY, xlo = INFINITY, xhi = -INFINITY, ystep, pad;
	int logx;
	size_t *order = xcalloc(c->npoints + 1, sizeof(*order)), ndistinct = 0;

	for (size_t i = 0; i < c->npoints; i++) {
		const struct chart_point *p = &c->points[i];
		double a = p->has_bounds ? p->lower : p->value, b = p->has_bounds ? p->upper : p->value;

		if (a < lo)
			lo = a;
		if (isfinite(b) && b > hi)
			hi = b;
		if (p->value > hi)
			hi = p->value;
		if (p->x < xlo)
			xlo = p->x;
		if (p->x > xhi)
			xhi = p->x;
	}
	if (!isfinite(lo) || !isfinite(hi)) {
		lo = 0;
		hi = 1;
	}
	hi += (hi - lo) * 0.08;  /* room above for the arrows of open bounds */
	ystep = nice_range(&lo, &hi, 5);
	/* a sweep over 1, 2, 4 ... 64 reads best with each doubling one step apart */
	logx = c->x_numeric && xlo > 0 && xhi / xlo >= 8;
	if (logx) {
		xlo = log2(xlo);
		xhi = log2(xhi);
	}
	if (!c->x_numeric) {
		xlo = 0;
		xhi = c->npoints ? xhi + 1 : 1;
	} else {
		pad = xhi > xlo ? (xhi - xlo) * 0.08 : 1;
		xlo -= pad;
		xhi += pad;
	}

	svg_open(sb, c->width, c->height, c->title, "chart sweep");
	y_axis(sb, lo, hi, ystep, x0, x1, y0, y1, c->unit);
	for (size_t i = 0; i < c->npoints; i++) {
		const struct chart_point *p = &c->points[i];
		double x = x0 + ((logx ? log2(p->x) : p->x) - xlo) / (xhi - xlo) * (x1 - x0);
		int first = 1;

		for (size_t j = 0; j < i; j++)
			first &= strcmp(c->points[j].xlabel, p->xlabel) != 0;
		if (first) {
			strbuf_addf(sb, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", x, y0 + 17);
			html_escape(sb, p->xlabel);
			strbuf_addstr(sb, "</text>");
		}
	}
	strbuf_addf(sb, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", (x0 + x1) / 2.0, y0 + 36);
	html_escape(sb, c->xname);
	strbuf_addstr(sb, logx ? " (label, log scale)</text>" : " (label)</text>");

	/* a dashed line through the median at each label value, in the label's order */
	for (size_t i = 0; i < c->npoints; i++) {
		size_t j;

		for (j = 0; j < ndistinct && strcmp(c->points[order[j]].xlabel, c->points[i].xlabel); j++)
			;
		if (j == ndistinct)
			order[ndistinct++] = i;
	}
	for (size_t a = 1; c->x_numeric && a < ndistinct; a++)
		for (size_t b = a; b > 0 && c->points[order[b]].x < c->points[order[b - 1]].x; b--) {
			size_t tmp = order[b];

			order[b] = order[b - 1];
			order[b - 1] = tmp;
		}
	if (ndistinct > 1) {
		strbuf_addstr(sb, "<path fill=\"none\" stroke=\"#0072B2\" stroke-opacity=\"0.6\" stroke-dasharray=\"5 4\" d=\"");
		for (size_t j = 0; j < ndistinct; j++) {
			const struct chart_point *p = &c->points[order[j]];
			double v[64] = { 0 }, x;
			size_t n = 0;

			for (size_t i = 0; i < c->npoints && n < 64; i++)
				if (!strcmp(c->points[i].xlabel, p->xlabel))
					v[n++] = c->points[i].value;
			/* insertion sort: a handful of repetitions */
			for (size_t a = 1; a < n; a++)
				for (size_t b = a; b > 0 && v[b] < v[b - 1]; b--) {
					double tmp = v[b];

					v[b] = v[b - 1];
					v[b - 1] = tmp;
				}
			x = x0 + ((logx ? log2(p->x) : p->x) - xlo) / (xhi - xlo) * (x1 - x0);
			strbuf_addf(sb, "%s%.1f %.1f", j ? "L" : "M", x,
				    y0 - ((n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) - lo) / (hi - lo) * (y0 - y1));
		}
		strbuf_addstr(sb, "\"/>");
	}
	free(order);

	for (size_t i = 0; i < c->npoints; i++) {
		const struct chart_point *p = &c->points[i];
		size_t same = 0, rank = 0;
		double x, y;

		/* repetitions at one label value spread a little sideways */
		for (size_t j = 0; j < c->npoints; j++) {
			if (!strcmp(c->points[j].xlabel, p->xlabel)) {
				rank += j < i;
				same++;
			}
		}
		x = x0 + ((logx ? log2(p->x) : p->x) - xlo) / (xhi - xlo) * (x1 - x0) +
		    ((double)rank - (double)(same - 1) / 2) * 9;
		y = y0 - (p->value - lo) / (hi - lo) * (y0 - y1);
		strbuf_addstr(sb, "<g class=\"point\" stroke=\"#0072B2\" fill=\"#0072B2\" data-run=\"");
		html_escape(sb, p->run);
		strbuf_addstr(sb, "\" data-x=\"");
		html_escape(sb, p->xlabel);
		strbuf_addf(sb, "\" data-value=\"%.10g\"", p->value);
		if (p->has_bounds)
			strbuf_addf(sb, " data-lower=\"%.10g\" data-upper=\"%.10g\"", p->lower, p->upper);
		strbuf_addstr(sb, "><title>");
		html_escape(sb, p->run);
		strbuf_addf(sb, ": %.6g", p->value);
		if (p->has_bounds)
			strbuf_addf(sb, " in [%.6g, %.6g]", p->lower, p->upper);
		strbuf_addstr(sb, "</title>");
		if (p->has_bounds) {
			double ylo = y0 - (p->lower - lo) / (hi - lo) * (y0 - y1);
			double yhi = isfinite(p->upper) ? y0 - (p->upper - lo) / (hi - lo) * (y0 - y1) : y1;

			strbuf_addf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke-width=\"1.5\"/>", x, ylo,
				    x, yhi);
			strbuf_addf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x - 4, ylo, x + 4, ylo);
			if (isfinite(p->upper))
				strbuf_addf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x - 4, yhi, x + 4,
					    yhi);
			else  /* no proven upper bound: an arrow off the top */
				strbuf_addf(sb, "<path d=\"M%.1f %.1fl-4 7h8z\"/>", x, yhi - 2);
		}
		marker(sb, 0, x, y);
		strbuf_addstr(sb, "</g>");
	}
	/* the legend: a run's dot, its bounds, an open bound, the medians' line */
	{
		double lx = x0;

		strbuf_addstr(sb, "<g class=\"legend\" stroke=\"#0072B2\" fill=\"#0072B2\">");
		marker(sb, 0, lx + 4, 31);
		strbuf_addf(sb, "<text x=\"%.1f\" y=\"35\" stroke=\"none\" fill=\"#222\">run</text>", lx + 12);
		lx += 44;
		strbuf_addf(sb, "<line x1=\"%.1f\" y1=\"24\" x2=\"%.1f\" y2=\"38\"/><line x1=\"%.1f\" y1=\"24\" x2=\"%.1f\" "
			    "y2=\"24\"/><line x1=\"%.1f\" y1=\"38\" x2=\"%.1f\" y2=\"38\"/>", lx + 4, lx + 4, lx, lx + 8, lx,
			    lx + 8);
		strbuf_addf(sb, "<text x=\"%.1f\" y=\"35\" stroke=\"none\" fill=\"#222\">bounds</text>", lx + 12);
		lx += 64;
		strbuf_addf(sb, "<path d=\"M%.1f 25l-4 7h8z\"/>", lx + 4);
		strbuf_addf(sb, "<text x=\"%.1f\" y=\"35\" stroke=\"none\" fill=\"#222\">no upper bound</text>", lx + 12);
		lx += 112;
		strbuf_addf(sb, "<line x1=\"%.1f\" y1=\"31\" x2=\"%.1f\" y2=\"31\" stroke-dasharray=\"5 4\"/>", lx, lx + 20);
		strbuf_addf(sb, "<text x=\"%.1f\" y=\"35\" stroke=\"none\" fill=\"#222\">median</text></g>", lx + 24);
	}
	strbuf_addstr(sb, "</svg>\n");
}
