/*
 * synth-exporter: many synthetic exporters of realistic size in one process,
 * the scrape load for bench/capacity.sh.
 *
 *   synth-exporter --listen ADDR --node-ports BASE:COUNT
 *                  [--dcgm-ports BASE:COUNT] [--gpus G]
 *
 * Each node port serves a node_exporter-sized page: 1,000 series in 21
 * families, with node_exporter's names and label sets (cpu x mode, devices,
 * mount points). Each DCGM port serves 50 DCGM fields per GPU for G GPUs
 * (default 4), with dcgm-exporter's labels (gpu, UUID, device, modelName,
 * Hostname, DCGM_FI_DRIVER_VERSION). Port BASE+i is "node i" on both kinds,
 * so its Hostname label and counter offsets differ from port to port, as
 * real hosts do.
 *
 * Values move on every scrape (counters grow with time, gauges follow a slow
 * wave), so Prometheus stores real samples, not runs of one repeated value.
 *
 * Everything runs in one epoll loop: non-blocking sockets, the page built
 * per request, Connection: close. It prints "synth-exporter: listening on
 * N ports" to stderr when every port is bound and exits 0 on SIGTERM/SIGINT.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQUEST 4096
#define MAX_GPUS 64
#define SERIES_PER_GPU 50

enum port_kind { PORT_NODE, PORT_DCGM };

/* One epoll registration: a listening port or an accepted connection. */
struct conn {
	int fd;
	int listening;
	enum port_kind kind;
	int node;		/* index of the synthetic node behind the port */
	char request[MAX_REQUEST];
	size_t request_len;
	char *response;
	size_t response_len, response_sent;
};

struct page {
	char *data;
	size_t len, cap;
};

static int gpus = 4;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("synth-exporter: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void page_printf(struct page *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void page_printf(struct page *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(p->data + p->len, p->cap - p->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			die("formatting a page failed");
		if ((size_t)n < p->cap - p->len)
			break;
		p->cap = p->cap * 2 + (size_t)n + 1;
		p->data = realloc(p->data, p->cap);
		if (!p->data)
			die("out of memory");
	}
	p->len += (size_t)n;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A gauge between lo and hi that drifts with time, phase-shifted per series. */
static double wave(double t, int seed, double lo, double hi)
{
	return lo + (hi - lo) * (0.5 + 0.5 * sin(t / 30.0 + seed * 0.7));
}

static void family(struct page *p, const char *name, const char *type)
{
	page_printf(p, "# HELP %s Synthetic %s.\n# TYPE %s %s\n", name, type, name, type);
}

/* node_exporter's shape: 512 + 488 = 1,000 series. */
static void build_node_page(struct page *p, int node, double t)
{
	static const char *modes[] = { "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user" };
	static const char *net[] = { "receive_bytes", "transmit_bytes", "receive_packets",
				     "transmit_packets", "receive_errs", "transmit_errs",
				     "receive_drop", "transmit_drop" };
	static const char *disk[] = { "reads_completed", "writes_completed", "read_bytes",
				      "written_bytes", "io_time_seconds", "read_time_seconds",
				      "write_time_seconds" };
	static const char *fs[] = { "size_bytes", "avail_bytes", "free_bytes", "files", "files_free" };
	char name[128];
	int i, j, k, seed = 0;
	double up = t - 1.7e9 + node * 1000.0;

	family(p, "node_cpu_seconds_total", "counter");
	for (i = 0; i < 64; i++)	/* 64 cpus x 8 modes = 512 */
		for (j = 0; j < 8; j++)
			page_printf(p, "node_cpu_seconds_total{cpu=\"%d\",mode=\"%s\"} %.2f\n", i, modes[j],
				    up * (j == 0 ? 0.6 : 0.05) + i);
	for (k = 0; k < 8; k++) {	/* 8 families x 16 devices = 128 */
		snprintf(name, sizeof(name), "node_network_%s_total", net[k]);
		family(p, name, "counter");
		for (i = 0; i < 16; i++)
			page_printf(p, "%s{device=\"eth%d\"} %.0f\n", name, i, up * (1000.0 + i * 10 + k));
	}
	for (k = 0; k < 7; k++) {	/* 7 families x 16 devices = 112 */
		snprintf(name, sizeof(name), "node_disk_%s_total", disk[k]);
		family(p, name, "counter");
		for (i = 0; i < 16; i++)
			page_printf(p, "%s{device=\"nvme%dn1\"} %.0f\n", name, i, up * (50.0 + i + k));
	}
	for (k = 0; k < 5; k++) {	/* 5 families x 24 mounts = 120 */
		snprintf(name, sizeof(name), "node_filesystem_%s", fs[k]);
		family(p, name, "gauge");
		for (i = 0; i < 24; i++)
			page_printf(p, "%s{device=\"/dev/md%d\",fstype=\"xfs\",mountpoint=\"/scratch/%d\"} %.0f\n",
				    name, i, i, wave(t, seed++, 1e11, 4e12));
	}
	family(p, "node_memory_bytes", "gauge");	/* 128 */
	for (i = 0; i < 128; i++)
		page_printf(p, "node_memory_bytes{field=\"f%d\"} %.0f\n", i, wave(t, seed++, 1e6, 1e11));
}

/* 50 DCGM fields per GPU, with dcgm-exporter's label set. */
static void build_dcgm_page(struct page *p, int node, double t)
{
	static const char *fields[SERIES_PER_GPU] = {
		"DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_MEMORY_TEMP",
		"DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
		"DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL",
		"DCGM_FI_DEV_ENC_UTIL", "DCGM_FI_DEV_DEC_UTIL", "DCGM_FI_DEV_XID_ERRORS",
		"DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
		"DCGM_FI_DEV_VGPU_LICENSE_STATUS", "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
		"DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "DCGM_FI_DEV_ROW_REMAP_FAILURE",
		"DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "DCGM_FI_PROF_DRAM_ACTIVE",
		"DCGM_FI_PROF_PCIE_TX_BYTES", "DCGM_FI_PROF_PCIE_RX_BYTES", "DCGM_FI_PROF_SM_ACTIVE",
		"DCGM_FI_PROF_SM_OCCUPANCY", "DCGM_FI_PROF_PIPE_FP64_ACTIVE", "DCGM_FI_PROF_PIPE_FP32_ACTIVE",
		"DCGM_FI_PROF_PIPE_FP16_ACTIVE", "DCGM_FI_PROF_NVLINK_TX_BYTES", "DCGM_FI_PROF_NVLINK_RX_BYTES",
		"DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
		"DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL",
		"DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", "DCGM_FI_DEV_RETIRED_SBE", "DCGM_FI_DEV_RETIRED_DBE",
		"DCGM_FI_DEV_RETIRED_PENDING", "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL",
		"DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL", "DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL",
		"DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL", "DCGM_FI_DEV_POWER_MGMT_LIMIT",
		"DCGM_FI_DEV_SLOWDOWN_TEMP", "DCGM_FI_DEV_SHUTDOWN_TEMP", "DCGM_FI_DEV_PSTATE",
		"DCGM_FI_DEV_FAN_SPEED", "DCGM_FI_DEV_VIDEO_CLOCK", "DCGM_FI_DEV_APP_SM_CLOCK",
	};
	int f, g;

	for (f = 0; f < SERIES_PER_GPU; f++) {
		family(p, fields[f], "gauge");
		for (g = 0; g < gpus; g++)
			page_printf(p, "%s{gpu=\"%d\",UUID=\"GPU-%08x-%04x-4%03x-8%03x-%012x\",device=\"nvidia%d\","
				       "modelName=\"NVIDIA H100 80GB HBM3\",Hostname=\"node%d\","
				       "DCGM_FI_DRIVER_VERSION=\"535.104.05\"} %.1f\n",
				    fields[f], g, (unsigned)node, (unsigned)g, (unsigned)f & 0xfff,
				    (unsigned)(node + g) & 0xfff, (unsigned)(node * 64 + g), g, node,
				    wave(t, f * 64 + g, 0, 100));
	}
}

static struct conn *conn_new(int fd, int listening, enum port_kind kind, int node)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		die("out of memory");
	c->fd = fd;
	c->listening = listening;
	c->kind = kind;
	c->node = node;
	return c;
}

static void conn_close(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->response);
	free(c);
}

static void listen_on(int ep, const char *addr, int port, enum port_kind kind, int node)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct epoll_event ev = { .events = EPOLLIN };
	int fd, one = 1;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		die("'%s' is not an IPv4 address", addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("cannot listen on %s:%d: %s", addr, port, strerror(errno));
	if (listen(fd, 128) < 0)
		die("listen %s:%d: %s", addr, port, strerror(errno));
	ev.data.ptr = conn_new(fd, 1, kind, node);
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

static void accept_all(int ep, struct conn *l)
{
	for (;;) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN };

		if (fd < 0)
			return;	/* EAGAIN, or a client that gave up: nothing to serve */
		ev.data.ptr = conn_new(fd, 0, l->kind, l->node);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll_ctl: %s", strerror(errno));
	}
}

static void respond(int ep, struct conn *c)
{
	struct page body = { 0 }, whole = { 0 };
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	int is_get = strncmp(c->request, "GET ", 4) == 0;

	body.cap = whole.cap = 1 << 16;
	body.data = malloc(body.cap);
	whole.data = malloc(whole.cap);
	if (!body.data || !whole.data)
		die("out of memory");
	if (is_get && c->kind == PORT_NODE)
		build_node_page(&body, c->node, now_seconds());
	else if (is_get)
		build_dcgm_page(&body, c->node, now_seconds());
	page_printf(&whole, "HTTP/1.1 %s\r\nContent-Type: text/plain; version=0.0.4\r\n"
			    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		    is_get ? "200 OK" : "405 Method Not Allowed", body.len);
	page_printf(&whole, "%.*s", (int)body.len, body.data);
	free(body.data);
	c->response = whole.data;
	c->response_len = whole.len;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void serve(int ep, struct conn *c, uint32_t events)
{
	ssize_t n;

	if (c->listening) {
		accept_all(ep, c);
		return;
	}
	if (!c->response) {
		n = read(c->fd, c->request + c->request_len, sizeof(c->request) - 1 - c->request_len);
		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				return;
			conn_close(ep, c);
			return;
		}
		c->request_len += (size_t)n;
		c->request[c->request_len] = '\0';
		if (strstr(c->request, "\r\n\r\n"))
			respond(ep, c);
		else if (c->request_len == sizeof(c->request) - 1)
			conn_close(ep, c);
		return;
	}
	if (events & EPOLLOUT) {
		n = write(c->fd, c->response + c->response_sent, c->response_len - c->response_sent);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			conn_close(ep, c);
			return;
		}
		c->response_sent += (size_t)n;
		if (c->response_sent == c->response_len)
			conn_close(ep, c);
	}
}

/* "BASE:COUNT" into its two numbers. */
static void parse_range(const char *arg, int *base, int *count)
{
	char *end;
	long b = strtol(arg, &end, 10), n;

	if (*end != ':')
		die("'%s' is not BASE:COUNT", arg);
	n = strtol(end + 1, &end, 10);
	if (*end || b < 1 || n < 0 || b + n > 65536)
		die("'%s' is not BASE:COUNT within the port range", arg);
	*base = (int)b;
	*count = (int)n;
}

int main(int argc, char **argv)
{
	const char *addr = NULL;
	int node_base = 0, node_count = 0, dcgm_base = 0, dcgm_count = 0, i, ep, sfd;
	struct epoll_event ev = { .events = EPOLLIN }, events[256];
	sigset_t mask;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--listen") && i + 1 < argc)
			addr = argv[++i];
		else if (!strcmp(argv[i], "--node-ports") && i + 1 < argc)
			parse_range(argv[++i], &node_base, &node_count);
		else if (!strcmp(argv[i], "--dcgm-ports") && i + 1 < argc)
			parse_range(argv[++i], &dcgm_base, &dcgm_count);
		else if (!strcmp(argv[i], "--gpus") && i + 1 < argc) {
			gpus = (int)strtol(argv[++i], NULL, 10);
			if (gpus < 1 || gpus > MAX_GPUS)
				die("--gpus takes 1 to %d", MAX_GPUS);
		} else
			die("usage: synth-exporter --listen ADDR --node-ports BASE:COUNT "
			    "[--dcgm-ports BASE:COUNT] [--gpus G]");
	}
	if (!addr || node_count + dcgm_count == 0)
		die("usage: synth-exporter --listen ADDR --node-ports BASE:COUNT "
		    "[--dcgm-ports BASE:COUNT] [--gpus G]");

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1: %s", strerror(errno));
	for (i = 0; i < node_count; i++)
		listen_on(ep, addr, node_base + i, PORT_NODE, i);
	for (i = 0; i < dcgm_count; i++)
		listen_on(ep, addr, dcgm_base + i, PORT_DCGM, i);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd: %s", strerror(errno));
	ev.data.ptr = NULL;	/* NULL marks the signal fd */
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);

	fprintf(stderr, "synth-exporter: listening on %d ports\n", node_count + dcgm_count);
	for (;;) {
		int n = epoll_wait(ep, events, 256, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			if (!events[i].data.ptr)
				return 0;
			serve(ep, events[i].data.ptr, events[i].events);
		}
	}
}
