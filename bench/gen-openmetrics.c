/*
 * Synthetic OpenMetrics input for bench/collect.sh: what a benchmon session
 * of the default profile holds after a run, for promtool's backfill.
 *
 *   gen-openmetrics OUT.om EXPECTED.csv SERVICES NODES GPUS SECONDS END
 *
 * One sample per second per series, at END-SECONDS+1 .. END (Unix seconds).
 * Every series carries session="bench", client_id, node, kind and instance
 * (services also service): one client per node, services spread over the
 * nodes. Per service: http_requests_total and the
 * http_server_request_duration_seconds histogram (15 buckets, _count, _sum)
 * with consistent cumulative counters; per node: node_exporter's CPU,
 * load, memory and eth0 traffic; per GPU: five DCGM fields; an 'up' of 1
 * per target. Values are pseudo-random but deterministic.
 *
 * EXPECTED.csv gets the session-wide KPI values benchmon's default profile
 * should compute over the whole range (first to last sample); stdout gets
 * "SERIES SAMPLES".
 *
 * Standalone on purpose (collect.sh compiles it into its scratch directory):
 * it is not part of ./benchmon and uses nothing of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NBUCKETS 15
#define NCPUS 2
#define NMODES 8
#define OUT_BUF (1u << 20)
#define MEM_TOTAL 68719476736LL   /* 64 GiB per node */

static const char *const bucket_le[NBUCKETS] = { "0.001", "0.0025", "0.005", "0.0075", "0.01", "0.015", "0.02",
						 "0.03",  "0.05",   "0.075", "0.1",    "0.25", "0.5",  "1", "+Inf" };
static const char *const cpu_modes[NMODES] = { "idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice" };

struct out {
	int fd;
	size_t len;
	char buf[OUT_BUF];
};

static struct out out;
static long nservices, nnodes, ngpus, nseconds, t_end, t_first;
static long long nseries, nsamples;

static void die(const char *what)
{
	fprintf(stderr, "gen-openmetrics: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void out_flush(void)
{
	size_t off = 0;

	while (off < out.len) {
		ssize_t n = write(out.fd, out.buf + off, out.len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		off += (size_t)n;
	}
	out.len = 0;
}

static void out_str(const char *s, size_t n)
{
	if (out.len + n > sizeof(out.buf))
		out_flush();
	memcpy(out.buf + out.len, s, n);
	out.len += n;
}

/* v / 10^decimals in plain decimal; v >= 0. */
static void out_fixed(long long v, int decimals)
{
	char tmp[32];
	int i = (int)sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
		if (--decimals == 0)
			tmp[--i] = '.';
	} while (v || decimals >= 0);
	out_str(tmp + i, sizeof(tmp) - (size_t)i);
}

/* One sample line: the series' name and labels, its value, the time. */
static void sample(const char *series, size_t series_len, long long v, int decimals, long t)
{
	if (out.len + series_len + 64 > sizeof(out.buf))
		out_flush();
	memcpy(out.buf + out.len, series, series_len);
	out.len += series_len;
	out.buf[out.len++] = ' ';
	out_fixed(v, decimals);
	out.buf[out.len++] = ' ';
	out_fixed(t, 0);
	out.buf[out.len++] = '\n';
	nsamples++;
}

static void family(const char *name, const char *type, const char *help)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "# TYPE %s %s\n# HELP %s %s\n", name, type, name, help);

	out_str(line, (size_t)n);
}

/* splitmix64: a deterministic noise source keyed by series and time */
static uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t z = a * 0x9e3779b97f4a7c15ULL + b + 0x632be59bd9b4e5bULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t service_labels(char *buf, size_t size, const char *metric, long s, const char *extra)
{
	long n = s % nnodes;
	int len = snprintf(buf, size,
			   "%s{session=\"bench\",client_id=\"client%02ld\",node=\"node%02ld\",kind=\"service\","
			   "service=\"svc%02ld\",instance=\"node%02ld:%ld\",job=\"services\"%s}",
			   metric, n + 1, n + 1, s + 1, n + 1, 8000 + s, extra);

	return (size_t)len;
}

static size_t node_labels(char *buf, size_t size, const char *metric, long n, const char *kind, const char *extra)
{
	int len = snprintf(buf, size,
			   "%s{session=\"bench\",client_id=\"client%02ld\",node=\"node%02ld\",kind=\"%s\","
			   "instance=\"node%02ld:%d\",job=\"%s\"%s}",
			   metric, n + 1, n + 1, kind, n + 1, !strcmp(kind, "dcgm") ? 9400 : 9100, kind, extra);

	return (size_t)len;
}

/* Requests service s completed in second t. */
static long long requests(long s, long t)
{
	return 40 + 8 * s + (long long)(mix((uint64_t)s, (uint64_t)t) % 21);
}

/* Mean latency of service s, in microseconds (exponentially distributed). */
static long long mean_us(long s)
{
	return 3000 + 1500 * s;
}

struct expected {
	double req_inc;
	double bucket_inc[NBUCKETS];
	double idle_inc, cpu_inc;
	double mem_pct_sum;
	long long mem_points;
	double rx_inc, tx_inc;
	double load_sum;
	long long load_points;
	double gpu_util_sum, gpu_fb_sum, gpu_power_sum;
	long long gpu_points;
	double gpu_temp_max;
	double energy_inc;
};

static struct expected ex;

static void gen_services(void)
{
	char name[512], extra[64];
	size_t len;

	family("http_requests", "counter", "Requests completed.");
	for (long s = 0; s < nservices; s++) {
		long long v = 100000LL * (s + 1), first = -1;

		len = service_labels(name, sizeof(name), "http_requests_total", s, "");
		nseries++;
		for (long t = t_first; t <= t_end; t++) {
			if (t > t_first)
				v += requests(s, t);
			if (first < 0)
				first = v;
			sample(name, len, v, 0, t);
		}
		ex.req_inc += (double)(v - first);
	}

	family("http_server_request_duration_seconds", "histogram", "Request latency.");
	for (long s = 0; s < nservices; s++) {
		char bname[NBUCKETS][512], cname[512], sname[512];
		size_t blen[NBUCKETS], clen, slen;
		double cdf[NBUCKETS];
		long long cum[NBUCKETS], first[NBUCKETS], count = 100000LL * (s + 1), sum_us;

		for (int b = 0; b < NBUCKETS; b++) {
			snprintf(extra, sizeof(extra), ",le=\"%s\"", bucket_le[b]);
			blen[b] = service_labels(bname[b], sizeof(bname[b]), "http_server_request_duration_seconds_bucket",
						 s, extra);
			cdf[b] = b == NBUCKETS - 1 ? 1.0 : 1.0 - exp(-strtod(bucket_le[b], NULL) * 1e6 / (double)mean_us(s));
			cum[b] = (long long)floor((double)count * cdf[b] + 0.5);
			first[b] = cum[b];
		}
		clen = service_labels(cname, sizeof(cname), "http_server_request_duration_seconds_count", s, "");
		slen = service_labels(sname, sizeof(sname), "http_server_request_duration_seconds_sum", s, "");
		sum_us = count * mean_us(s);
		nseries += NBUCKETS + 2;
		for (long t = t_first; t <= t_end; t++) {
			if (t > t_first) {
				long long r = requests(s, t);

				for (int b = 0; b < NBUCKETS; b++)
					cum[b] += b == NBUCKETS - 1 ? r : (long long)floor((double)r * cdf[b] + 0.5);
				count += r;
				sum_us += r * mean_us(s);
			}
			for (int b = 0; b < NBUCKETS; b++)
				sample(bname[b], blen[b], cum[b], 0, t);
			sample(cname, clen, count, 0, t);
			sample(sname, slen, sum_us, 6, t);
		}
		for (int b = 0; b < NBUCKETS; b++)
			ex.bucket_inc[b] += (double)(cum[b] - first[b]);
	}
}

/* CPU centiseconds node n's cpu c spent in each mode during second t; they add up to 100. */
static void cpu_split(long n, int c, long t, long long cs[NMODES])
{
	uint64_t h = mix((uint64_t)(1000 + n * NCPUS + c), (uint64_t)t);

	cs[1] = 20 + 10 * n + (long long)(h % 10);          /* user */
	cs[2] = 8 + (long long)((h >> 8) % 5);              /* system */
	cs[3] = 2;                                          /* iowait */
	cs[4] = 1;                                          /* irq */
	cs[5] = 1;                                          /* softirq */
	cs[6] = 0;                                          /* steal */
	cs[7] = (long long)((h >> 16) % 2);                 /* nice */
	cs[0] = 100 - cs[1] - cs[2] - cs[3] - cs[4] - cs[5] - cs[6] - cs[7];
}

static void gen_nodes(void)
{
	char name[512], extra[64];
	size_t len;

	family("node_cpu_seconds", "counter", "Seconds the CPUs spent in each mode.");
	for (long n = 0; n < nnodes; n++)
		for (int c = 0; c < NCPUS; c++)
			for (int m = 0; m < NMODES; m++) {
				long long v = 1000000LL * (m + 1), first = v, cs[NMODES];

				snprintf(extra, sizeof(extra), ",cpu=\"%d\",mode=\"%s\"", c, cpu_modes[m]);
				len = node_labels(name, sizeof(name), "node_cpu_seconds_total", n, "node", extra);
				nseries++;
				for (long t = t_first; t <= t_end; t++) {
					if (t > t_first) {
						cpu_split(n, c, t, cs);
						v += cs[m];
					}
					sample(name, len, v, 2, t);
				}
				ex.cpu_inc += (double)(v - first);
				if (m == 0)
					ex.idle_inc += (double)(v - first);
			}

	family("node_load1", "gauge", "1m load average.");
	for (long n = 0; n < nnodes; n++) {
		len = node_labels(name, sizeof(name), "node_load1", n, "node", "");
		nseries++;
		for (long t = t_first; t <= t_end; t++) {
			long long load = 50 + 20 * n + (long long)(mix((uint64_t)(2000 + n), (uint64_t)t) % 40);

			sample(name, len, load, 2, t);
			ex.load_sum += (double)load / 100.0;
			ex.load_points++;
		}
	}

	family("node_memory_MemAvailable_bytes", "gauge", "Memory available.");
	for (long n = 0; n < nnodes; n++) {
		len = node_labels(name, sizeof(name), "node_memory_MemAvailable_bytes", n, "node", "");
		nseries++;
		for (long t = t_first; t <= t_end; t++) {
			long long avail = MEM_TOTAL / 100 * (55 - 5 * n) +
					  (long long)(mix((uint64_t)(3000 + n), (uint64_t)t) % 1000000000ULL);

			sample(name, len, avail, 0, t);
			ex.mem_pct_sum += 100.0 * (1.0 - (double)avail / (double)MEM_TOTAL);
			ex.mem_points++;
		}
	}
	family("node_memory_MemTotal_bytes", "gauge", "Memory installed.");
	for (long n = 0; n < nnodes; n++) {
		len = node_labels(name, sizeof(name), "node_memory_MemTotal_bytes", n, "node", "");
		nseries++;
		for (long t = t_first; t <= t_end; t++)
			sample(name, len, MEM_TOTAL, 0, t);
	}

	for (int dir = 0; dir < 2; dir++) {
		const char *fam = dir ? "node_network_transmit_bytes" : "node_network_receive_bytes";

		family(fam, "counter", dir ? "Bytes sent." : "Bytes received.");
		for (long n = 0; n < nnodes; n++) {
			char metric[128];
			long long v = 1000000000LL * (n + 1), first = v;

			snprintf(metric, sizeof(metric), "%s_total", fam);
			len = node_labels(name, sizeof(name), metric, n, "node", ",device=\"eth0\"");
			nseries++;
			for (long t = t_first; t <= t_end; t++) {
				if (t > t_first)
					v += (dir ? 2000000 : 5000000) +
					     (long long)(mix((uint64_t)(4000 + 10 * n + dir), (uint64_t)t) % 1000000);
				sample(name, len, v, 0, t);
			}
			if (dir)
				ex.tx_inc += (double)(v - first);
			else
				ex.rx_inc += (double)(v - first);
		}
	}
}

/* Node n's GPU g in second t: utilisation %, temperature C, power cW, framebuffer MiB. */
static void gpu_state(long n, long g, long t, long long *util, long long *temp, long long *power_cw, long long *fb)
{
	uint64_t h = mix((uint64_t)(5000 + n * 64 + g), (uint64_t)t);

	*util = 60 + 5 * g + (long long)(h % 21);
	*temp = 55 + 3 * g + n + (long long)((h >> 8) % 5);
	*power_cw = 25000 + 1000 * g + (long long)((h >> 16) % 3000);
	*fb = 40000 + 1000 * g + (long long)((h >> 32) % 500);
}

static void gen_gpus(void)
{
	static const char *const fields[] = { "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE",
					      "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" };
	static const char *const helps[] = { "GPU utilization (in %).", "GPU temperature (in C).",
					     "Power draw (in W).", "Framebuffer memory used (in MiB).",
					     "Total energy consumption since boot (in mJ)." };
	char name[512], extra[128];
	size_t len;

	for (int f = 0; f < 5; f++) {
		/* dcgm-exporter types the energy as a counter, but OpenMetrics counters end in _total */
		family(fields[f], f == 4 ? "unknown" : "gauge", helps[f]);
		for (long n = 0; n < nnodes; n++)
			for (long g = 0; g < ngpus; g++) {
				long long util, temp, power, fb, energy = 1000000000LL, first = energy;

				snprintf(extra, sizeof(extra),
					 ",gpu=\"%ld\",UUID=\"GPU-bench-%02ld-%ld\",modelName=\"NVIDIA H100 80GB HBM3\"", g,
					 n + 1, g);
				len = node_labels(name, sizeof(name), fields[f], n, "dcgm", extra);
				nseries++;
				for (long t = t_first; t <= t_end; t++) {
					gpu_state(n, g, t, &util, &temp, &power, &fb);
					switch (f) {
					case 0:
						sample(name, len, util, 0, t);
						ex.gpu_util_sum += (double)util;
						ex.gpu_points++;
						break;
					case 1:
						sample(name, len, temp, 0, t);
						if ((double)temp > ex.gpu_temp_max)
							ex.gpu_temp_max = (double)temp;
						break;
					case 2:
						sample(name, len, power, 2, t);
						ex.gpu_power_sum += (double)power / 100.0;
						break;
					case 3:
						sample(name, len, fb, 0, t);
						ex.gpu_fb_sum += (double)fb;
						break;
					default:
						if (t > t_first)
							energy += power * 10;  /* cW for one second, in mJ */
						sample(name, len, energy, 0, t);
					}
				}
				if (f == 4)
					ex.energy_inc += (double)(energy - first);
			}
	}
}

static void gen_up(void)
{
	char name[512];
	size_t len;

	family("up", "gauge", "Whether the target answered its last scrape.");
	for (long i = 0; i < nservices + 2 * nnodes; i++) {
		if (i < nservices)
			len = service_labels(name, sizeof(name), "up", i, "");
		else
			len = node_labels(name, sizeof(name), "up", (i - nservices) % nnodes,
					  i < nservices + nnodes ? "node" : "dcgm", "");
		nseries++;
		for (long t = t_first; t <= t_end; t++)
			sample(name, len, 1, 0, t);
	}
}

/* A quantile as benchmon computes it: linear within the bucket that holds the rank. */
static double quantile(double q)
{
	double total = ex.bucket_inc[NBUCKETS - 1], rank = q * total, lo = 0, below = 0;
	int b;

	for (b = 0; b < NBUCKETS - 1 && ex.bucket_inc[b] < rank; b++)
		;
	if (b == NBUCKETS - 1)
		return strtod(bucket_le[NBUCKETS - 2], NULL);
	if (b > 0) {
		lo = strtod(bucket_le[b - 1], NULL);
		below = ex.bucket_inc[b - 1];
	}
	return lo + (strtod(bucket_le[b], NULL) - lo) * (rank - below) / (ex.bucket_inc[b] - below);
}

static void write_expected(const char *path)
{
	FILE *f = fopen(path, "w");
	double span = (double)(t_end - t_first);

	if (!f)
		die(path);
	fprintf(f, "kpi,expected\n");
	fprintf(f, "throughput_qps,%.6f\n", ex.req_inc / span);
	fprintf(f, "latency_p50_ms,%.6f\n", 1000 * quantile(0.50));
	fprintf(f, "latency_p95_ms,%.6f\n", 1000 * quantile(0.95));
	fprintf(f, "latency_p99_ms,%.6f\n", 1000 * quantile(0.99));
	fprintf(f, "cpu_util_avg_pct,%.6f\n", 100.0 * (1.0 - ex.idle_inc / ex.cpu_inc));
	fprintf(f, "mem_used_avg_pct,%.6f\n", ex.mem_pct_sum / (double)ex.mem_points);
	fprintf(f, "net_rx_bytes_per_s,%.6f\n", ex.rx_inc / span);
	fprintf(f, "net_tx_bytes_per_s,%.6f\n", ex.tx_inc / span);
	fprintf(f, "load1_avg,%.6f\n", ex.load_sum / (double)ex.load_points);
	if (ex.gpu_points) {
		fprintf(f, "gpu_util_avg_pct,%.6f\n", ex.gpu_util_sum / (double)ex.gpu_points);
		fprintf(f, "gpu_mem_used_avg_mib,%.6f\n", ex.gpu_fb_sum / (double)ex.gpu_points);
		fprintf(f, "gpu_temp_max_c,%.6f\n", ex.gpu_temp_max);
		fprintf(f, "gpu_power_avg_w,%.6f\n", ex.gpu_power_sum / (double)ex.gpu_points);
		fprintf(f, "gpu_energy_j,%.6f\n", ex.energy_inc * 0.001);
	}
	if (fclose(f) != 0)
		die(path);
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: gen-openmetrics OUT.om EXPECTED.csv SERVICES NODES GPUS SECONDS END\n");
		return 2;
	}
	nservices = strtol(argv[3], NULL, 10);
	nnodes = strtol(argv[4], NULL, 10);
	ngpus = strtol(argv[5], NULL, 10);
	nseconds = strtol(argv[6], NULL, 10);
	t_end = strtol(argv[7], NULL, 10);
	if (nservices < 1 || nnodes < 1 || ngpus < 0 || nseconds < 2 || t_end <= nseconds) {
		fprintf(stderr, "gen-openmetrics: bad arguments\n");
		return 2;
	}
	t_first = t_end - nseconds + 1;
	out.fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out.fd < 0)
		die(argv[1]);
	gen_services();
	gen_nodes();
	gen_gpus();
	gen_up();
	out_str("# EOF\n", 6);
	out_flush();
	if (close(out.fd) != 0)
		die(argv[1]);
	write_expected(argv[2]);
	printf("%lld %lld\n", nseries, nsamples);
	return ferror(stdout) || fflush(stdout) ? 1 : 0;
}
