/*
 * mapping.h - logsource and field mappings, loaded from data files (mappings/*.yml).
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

#endif
