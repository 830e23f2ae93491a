/*
 * metrics.c - names, help and types of the manager's shared counters, and their Prometheus
 * text exposition (GET /metrics).
 */
#include <stdio.h>

#include "manager/metrics.h"
#include "bannin/error.h"

struct metric_def {
    const char *name;
    const char *help;
    int gauge;
};

static const struct metric_def defs[MGR_M__COUNT] = {
    [MGR_M_LINK_CONNECTIONS] = {"bannin_link_connections_total", "Agent connections accepted.", 0},
    [MGR_M_LINK_CONNECTIONS_OPEN] = {"bannin_link_connections_open", "Agent connections open.", 1},
    [MGR_M_LINK_REFUSED_CERT] = {"bannin_link_refused_cert_total",
                                 "TLS handshakes refused (unknown CA, bad or revoked cert).", 0},
    [MGR_M_LINK_FRAMES] = {"bannin_link_frames_total", "Frames decoded.", 0},
    [MGR_M_LINK_FRAMES_BAD] = {"bannin_link_frames_bad_total",
                               "Malformed or oversized frames refused.", 0},
    [MGR_M_LINK_BAD_SIGNATURE] = {"bannin_link_bad_signature_total",
                                  "Batches whose signature did not verify.", 0},
    [MGR_M_LINK_REPLAYS] = {"bannin_link_replays_total",
                            "Batches replaying an acknowledged sequence.", 0},
    [MGR_M_LINK_GAPS] = {"bannin_link_gaps_total", "Sequence gaps seen.", 0},
    [MGR_M_LINK_HEARTBEATS] = {"bannin_link_heartbeats_total", "Agent heartbeats received.", 0},
    [MGR_M_ENROLLMENTS] = {"bannin_enrollments_total", "Agents enrolled.", 0},
    [MGR_M_ENROLLMENTS_REFUSED] = {"bannin_enrollments_refused_total",
                                   "Enrolments refused (token unknown, used up or expired).", 0},
    [MGR_M_INGEST_BATCHES] = {"bannin_ingest_batches_total",
                              "Batches committed and acknowledged.", 0},
    [MGR_M_INGEST_EVENTS] = {"bannin_ingest_events_total", "Events stored.", 0},
    [MGR_M_INGEST_DUPLICATES] = {"bannin_ingest_duplicates_total",
                                 "Events dropped as (agent, seq) duplicates.", 0},
    [MGR_M_INGEST_FULL] = {"bannin_ingest_disk_full_total",
                           "Commits refused for a full disk (acknowledgements withheld).", 0},
    [MGR_M_AGENTS_SILENT] = {"bannin_agents_silent_total", "Agent silence alerts raised.", 0},
    [MGR_M_ATTACH_OFFERS] = {"bannin_attach_offers_total",
                             "Forensic upload offers taken (new or resumed).", 0},
    [MGR_M_ATTACH_RESUMED] = {"bannin_attach_resumed_total",
                              "Forensic upload offers that resumed a partial upload.", 0},
    [MGR_M_ATTACH_BYTES] = {"bannin_attach_bytes_total", "Forensic upload bytes received.", 0},
    [MGR_M_ATTACH_STORED] = {"bannin_attach_stored_total",
                             "Forensic packages stored and attached to their incident.", 0},
    [MGR_M_ATTACH_REFUSED] = {"bannin_attach_refused_total",
                              "Forensic uploads refused (not a forensics action, size, SHA-256).",
                              0},
    [MGR_M_DETECT_EVENTS] = {"bannin_detect_events_total",
                             "Events run through central detection.", 0},
    [MGR_M_ALERTS] = {"bannin_alerts_total", "Alerts raised before de-duplication.", 0},
    [MGR_M_ALERTS_DEDUPED] = {"bannin_alerts_deduplicated_total",
                              "Alerts folded into an existing alert.", 0},
    [MGR_M_ALERTS_SUPPRESSED] = {"bannin_alerts_suppressed_total",
                                 "Alerts dropped by a suppression.", 0},
    [MGR_M_IOC_MATCHES] = {"bannin_ioc_matches_total", "IOC matches.", 0},
    [MGR_M_INCIDENTS] = {"bannin_incidents_total", "Incidents opened.", 0},
    [MGR_M_NOTIFY_SENT] = {"bannin_notify_sent_total", "Notifications delivered.", 0},
    [MGR_M_NOTIFY_FAILED] = {"bannin_notify_failed_total",
                             "Notification attempts that failed (retried).", 0},
    [MGR_M_NOTIFY_DEAD] = {"bannin_notify_dead_total",
                           "Notifications given up after the last retry.", 0},
    [MGR_M_API_REQUESTS] = {"bannin_api_requests_total", "API requests served.", 0},
    [MGR_M_API_4XX] = {"bannin_api_client_errors_total", "API requests answered 4xx.", 0},
    [MGR_M_API_5XX] = {"bannin_api_server_errors_total", "API requests answered 5xx.", 0},
    [MGR_M_API_BAD_BODY] = {"bannin_api_bad_body_total",
                            "API bodies refused (not JSON, too big, too deep, wrong types).", 0},
    [MGR_M_API_AUTH_FAILED] = {"bannin_api_auth_failed_total",
                               "API requests with missing, unknown or expired credentials.", 0},
    [MGR_M_API_DENIED] = {"bannin_api_denied_total",
                          "API requests refused for role or tenant.", 0},
};

const char *
mgr_metric_name(enum mgr_metric id)
{
    if ((unsigned)id >= MGR_M__COUNT)
        return NULL;
    return defs[id].name;
}

int
mgr_metrics_format(const struct mgr_metrics *m, struct bn_buf *out)
{
    for (int i = 0; i < MGR_M__COUNT; i++) {
        const struct metric_def *d = &defs[i];
        int rc = bn_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", d->name, d->help,
                               d->name, d->gauge ? "gauge" : "counter", d->name,
                               (unsigned long long)mgr_metric_get(m, (enum mgr_metric)i));
        if (rc < 0)
            return rc;
    }
    return 0;
}
