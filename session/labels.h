#ifndef BENCHMON_LABELS_H
#define BENCHMON_LABELS_H

/*
 * The labels benchmon puts on every target it registers (the file_sd files
 * under targets/, see registry.h), so on every series Prometheus stores:
 * written by the registry, read back by status (lib/prom.c), collect's KPI
 * scopes and findings, and the edge readings matched to series. One name,
 * one definition: templates/prometheus.yml.in relabels LABEL_KIND to job.
 */

#define LABEL_SESSION "session"
#define LABEL_CLIENT_ID "client_id"
#define LABEL_NODE "node"
#define LABEL_KIND "kind"
#define LABEL_SERVICE "service"

/*
 * The labels of the alerts the session's rules raise (templates/rules/):
 * their severity, and the GPU a DCGM exporter's series names.
 */
#define LABEL_SEVERITY "severity"
#define LABEL_GPU "gpu"

/*
 * Meta labels: kept in the registry's files for benchmon, dropped by
 * Prometheus after relabelling, so never on a series.
 */
#define LABEL_META_NODE_ADDRESS "__benchmon_node_address"  /* the node's address, when its name may not resolve */

#endif
