/*
 * mapping.h - logsource and field mappings, loaded from data files (the YAML files in mappings/).
 *
 * A mapping turns a reader's record into an event the engine can match: it renames source
 * keys to Sigma taxonomy field names (Event.EventData.Image -> Image, winlog.event_data.X ->
 * X, auditd/syslog/journald/Zeek names -> their Sigma names), and derives the event's
 * logsource (product, category, service) from its fields (e.g. Channel
 * Microsoft-Windows-Sysmon/Operational with EventID 1 -> windows / process_creation / sysmon).
 */
#ifndef BANNIN_MAPPING_H
#define BANNIN_MAPPING_H

#include "bannin/common.h"
#include "bannin/diag.h"
#include "bannin/event.h"
#include "bannin/record.h"

struct bn_mapping;
struct bn_evbuilder;

/* Loads every *.yml mapping file in dir. Returns 0 and an owned mapping, or an error with d. */
int bn_mapping_load_dir(struct bn_mapping **out, const char *dir, struct bn_diag *d);
/* Loads the mapping files shipped with Bannin: $BANNIN_MAPPINGS, else the installed or
 * source-tree mappings directory. */
int bn_mapping_load_default(struct bn_mapping **out, struct bn_diag *d);
void bn_mapping_free(struct bn_mapping *m);

/* Returns an owned per-thread builder that maps records onto fields of ft (borrowed; both
 * m and ft must outlive the builder), or NULL. */
struct bn_evbuilder *bn_evbuilder_new(const struct bn_mapping *m, const struct bn_fieldtab *ft);
void bn_evbuilder_free(struct bn_evbuilder *b);
/* Fills ev (initialised for ft) from rec. Returns 0, or BN_ENOMEM / BN_ETOOBIG. */
int bn_evbuilder_build(struct bn_evbuilder *b, const struct bn_record *rec, struct bn_event *ev);

/* Loads one mapping file held in memory (name is used in diagnostics), as bn_mapping_load_dir
 * does for each file: for tests and fuzz targets. buf is borrowed. Returns 0 and an owned
 * mapping, or an error with d. */
int bn_mapping_load_mem(struct bn_mapping **out, const char *buf, size_t len, const char *name,
                        struct bn_diag *d);

/* Number of logsource ids the mapping can assign: ev->ls_id is below it or BN_FIELD_NONE. */
uint32_t bn_mapping_ls_count(const struct bn_mapping *m);
/* Sets the product, category and service (borrowed, NULL = unset) of logsource id ls.
 * Returns 0 or BN_ENOTFOUND. */
int bn_mapping_ls_get(const struct bn_mapping *m, uint32_t ls, const char **product,
                      const char **category, const char **service);

/*
 * Tells whether a rule whose logsource is (product, category, service) - NULL for a part the
 * rule does not set - applies to an event whose mapping set (ev_product, ev_category,
 * ev_service). Besides equality it knows the Sigma taxonomy's umbrella logsources that one
 * event string cannot carry: category registry_event covers registry_add, registry_delete,
 * registry_set and registry_rename; on Linux, service syslog covers every service read from
 * syslog or journald and service auth covers sshd, sudo, su, login and passwd.
 */
bool bn_logsource_applies(const char *product, const char *category, const char *service,
                          const char *ev_product, const char *ev_category,
                          const char *ev_service);

#endif
