/*
 * limits.h - every hard ceiling of libbannin in one place (curl dynbuf toobig, YARA limits.h).
 *
 * Parsers of outside input check against these and fail with BN_ETOOBIG and a diagnostic
 * naming the limit; nothing grows without bound.
 */
#ifndef BANNIN_LIMITS_H
#define BANNIN_LIMITS_H

/* --- Sigma rules --- */
#define BN_RULE_FILE_MAX (4u << 20)        /* bytes of one rule file */
#define BN_RULE_DOCS_MAX 64                /* YAML documents in one rule file */
#define BN_RULE_DEPTH_MAX 32               /* YAML nesting depth */
#define BN_RULE_VALUES_MAX 65536           /* values in one detection item */
#define BN_RULE_STRING_MAX (64u << 10)     /* bytes of one value */
#define BN_RULE_SEARCHES_MAX 256           /* named searches in one detection */
#define BN_COND_LEN_MAX (16u << 10)        /* bytes of one condition */
#define BN_COND_DEPTH_MAX 64               /* nesting of parentheses / not */
#define BN_RULESET_RULES_MAX 100000        /* rules in one compiled set */
#define BN_MODIFIERS_MAX 8                 /* modifiers on one field */
#define BN_EXPAND_VARIANTS_MAX 4096        /* values produced by windash/base64offset/expand */
#define BN_CORR_GROUPS_MAX 1000000         /* live group-by keys per correlator */
#define BN_CORR_EVENTS_PER_GROUP_MAX 100000 /* timestamps kept per group */

/* --- log input --- */
#define BN_RECORD_MAX (16u << 20)          /* bytes of one record (JSON object, line, EVTX record) */
#define BN_RECORD_FIELDS_MAX 4096          /* key/value pairs in one record */
#define BN_KEY_MAX 1024                    /* bytes of one (flattened) key */
#define BN_JSON_DEPTH_MAX 64               /* JSON nesting */
#define BN_LINE_MAX (1u << 20)             /* bytes of one text line (syslog, auditd) */
#define BN_AUDIT_PENDING_MAX 4096          /* auditd events waiting for their EOE */
#define BN_AUDIT_RECORDS_PER_EVENT_MAX 256 /* records joined into one auditd event */
#define BN_EVTX_CHUNK_SIZE 65536           /* EVTX chunk size (fixed by the format) */
#define BN_EVTX_TEMPLATE_DEPTH_MAX 16      /* nested BinXML templates */
#define BN_EVTX_XML_DEPTH_MAX 64           /* nesting of BinXML elements */
#define BN_DECOMPRESS_RATIO_MAX 1000       /* output/input ratio before a stream is a bomb */
#define BN_DECOMPRESSED_MAX (64ull << 30)  /* bytes decompressed from one file */

/* --- configuration and mappings --- */
#define BN_CONFIG_FILE_MAX (1u << 20)
#define BN_MAPPING_FILE_MAX (1u << 20)

/* --- fields --- */
#define BN_FIELDS_MAX 65536                /* interned field names in one table */
#define BN_FIELD_NAME_MAX 256

/* --- IOC sets and triage (M4 triage: include/bannin/ioc.h, src/manager/detect|triage|notify) --- */
#define BN_IOC_FILE_MAX (256u << 20)       /* bytes of one CSV file or STIX bundle */
#define BN_IOC_ENTRIES_MAX 8000000         /* indicators in one set */
#define BN_IOC_VALUE_MAX 4096              /* bytes of one indicator value (URLs) */
#define BN_IOC_TEXT_MAX 1024               /* bytes of a source or comment */
#define BN_IOC_CSV_LINE_MAX 16384          /* bytes of one CSV line */
#define BN_IOC_STIX_PATTERN_MAX 65536      /* bytes of one STIX pattern */
#define BN_IOC_STIX_TERMS_MAX 1024         /* comparisons OR-ed in one STIX pattern */
#define BN_TRIAGE_OPEN_MAX 200000          /* de-duplication keys / open incidents kept in memory */
#define BN_NOTIFY_BODY_MAX (256u << 10)    /* bytes of one rendered notification */

/* --- api (M3: src/manager/api*.c, auth.c; the `bannin` admin client) --- */
#define BN_API_BODY_MAX (1u << 20)         /* bytes of one JSON request body */
#define BN_API_IMPORT_BODY_MAX (32u << 20) /* bytes of an IOC import or rule upload body */
#define BN_API_PUBLIC_BODY_MAX 4096        /* bytes of a body before authentication (login) */
#define BN_API_JSON_DEPTH_MAX 16           /* nesting of a request body */
#define BN_API_JSON_VALUES_MAX 100000      /* values (scalars, arrays, objects) in one body */
#define BN_API_STRING_MAX (16u << 20)      /* bytes of one string value */
#define BN_API_URL_MAX 4096                /* bytes of the URL (path + query) */
#define BN_API_QUERY_ARGS_MAX 64           /* query arguments in one request */
#define BN_API_HEADER_MAX 8192             /* bytes of the request headers (libmicrohttpd) */
#define BN_API_PAGE_MAX 1000               /* items in one page of a list */
#define BN_API_RESPONSE_MAX (64u << 20)    /* bytes of one response body */
#define BN_API_CONNECTIONS_MAX 512         /* concurrent API connections */
#define BN_API_CLIENT_RESPONSE_MAX (64u << 20) /* bytes the CLI accepts from the server */

/* --- wire: the agent <-> manager link (M1: include/bannin/wire.h, src/wire/) --- */
#define BN_WIRE_FRAME_MAX (8u << 20)        /* payload bytes of one frame */
#define BN_WIRE_UNAUTH_FRAME_MAX (64u << 10) /* ... from a peer without a client certificate */
#define BN_WIRE_BATCH_EVENTS_MAX 16384      /* events in one batch */
#define BN_WIRE_BATCH_RAW_MAX (16u << 20)   /* decompressed bytes of one batch body */
#define BN_WIRE_EVENT_MAX (1u << 20)        /* bytes of one event (the spool's record bound) */
#define BN_WIRE_TOKEN_MAX 256               /* bytes of an enrolment token */
#define BN_WIRE_PEM_MAX (16u << 10)         /* bytes of one PEM CSR or certificate */
#define BN_WIRE_NAME_MAX 255                /* host names, versions, uids */
#define BN_WIRE_HEALTH_MAX 1000             /* bytes of a heartbeat's health JSON */
#define BN_WIRE_ERRMSG_MAX 512              /* bytes of an ERROR frame's reason */
#define BN_WIRE_ACTION_TYPE_MAX 32          /* bytes of an ACTION's type name */
#define BN_WIRE_ACTION_PARAMS_MAX (64u << 10) /* bytes of an ACTION's params JSON */
#define BN_WIRE_RESULT_MAX (1u << 20)       /* bytes of a RESULT's result JSON */

/* --- manager store (src/manager/store_sqlite*.c) --- */
#define BN_STORE_QUERY_ROWS_MAX 10000       /* rows one list or search call returns */
#define BN_STORE_FIELD_FILTERS_MAX 16       /* JSON field filters in one event search */
#define BN_STORE_FILTER_VALUE_MAX 4096      /* bytes of one search value or field name */
#define BN_STORE_ALERT_EVENTS_MAX 256       /* events linked to one alert (timeline) */
#define BN_STORE_RETENTION_TX_ROWS 2000     /* rows deleted per retention transaction */
#define BN_STORE_TEXT_MAX (1u << 20)        /* bytes of a stored JSON/YAML/text column */
#define BN_STORE_IOC_BATCH_MAX 1000000      /* entries in one bulk IOC insert */
#define BN_STORE_METRIC_SAMPLES_MAX 1000000 /* alert/incident times one metrics query sorts */
#define BN_STORE_ZSAMPLE_BYTES_MAX (8u << 20) /* event JSON kept to train the zstd dictionary */
#define BN_STORE_ZSAMPLES_MAX 8192         /* events kept to train it */
#define BN_STORE_ZDICT_MAX (64u << 10)     /* bytes of a trained dictionary */
#define BN_STORE_DISK_LOW_BYTES (64ll << 20) /* free space below which the store alarm is up */

/* --- network sensor packet path (S1 netcore: src/sensor/decode|defrag|flow|stream|eve.c);
 * sensor.h names them NET_* --- */
#define BN_NET_LAYERS_MAX 4                /* IP layers decoded from one frame (tunnels) */
#define BN_NET_DEFRAG_DATAGRAMS 256        /* datagrams being reassembled per capture */
#define BN_NET_FLOWS_MAX (16u << 20)       /* --max-flows ceiling (default 65536) */
#define BN_NET_STREAM_SEGS_MAX 16          /* out-of-order TCP segments kept per direction */
#define BN_NET_STREAM_OOO_MAX (256u << 10) /* out-of-order TCP bytes kept per direction */
#define BN_NET_STREAM_HOLD_MAX (256u << 10) /* unacknowledged TCP bytes held per direction */
#define BN_NET_STREAM_MEMCAP (128ull << 20) /* held + out-of-order bytes, all flows of a capture */
#define BN_NET_EVE_LINE_MAX (1u << 20)     /* bytes of one eve or Zeek-named line */

/* --- respond: the actions plumbing (R4: src/agent/respond.c, manager actions) --- */
#define BN_RESPOND_TYPE_MAX 32              /* bytes of an action type name */
#define BN_RESPOND_PARAMS_MAX (64u << 10)   /* bytes of one action's params JSON */
#define BN_RESPOND_RESULT_MAX (1u << 20)    /* bytes of one action's result JSON */
#define BN_RESPOND_PENDING_MAX 4096         /* unacknowledged results kept in the state dir */
#define BN_RESPOND_BLOCK_MARKS_MAX 32       /* response.block_marks entries */
#define BN_ACTIONS_REASON_MAX 1000          /* bytes of a request/approval reason (manager) */

/* --- YARA scanning and forensic packages (R5: src/detect/yara.c, src/agent/respond_scan.c,
 * src/agent/respond_forensic.c) --- */
#define BN_YARA_RULE_FILES_MAX 10000       /* rule files in one compile (dirs, bundles) */
#define BN_YARA_RULE_FILE_MAX (16u << 20)  /* bytes of one rule file or bundle member */
#define BN_YARA_BUNDLE_MAX (256u << 20)    /* bytes of a .tar.gz rule bundle, unpacked */
#define BN_YARA_ISSUES_MAX 1000            /* compile issues kept (all are counted) */
#define BN_YARA_FILE_SIZE_DEFAULT (64ull << 20) /* scan: files larger are skipped, counted */
#define BN_YARA_TIMEOUT_DEFAULT 30         /* scan: seconds per file */
#define BN_YARA_FILES_DEFAULT 1000000      /* scan: files per run */
#define BN_YARA_DEPTH_MAX 64               /* scan: directory depth */
#define BN_RESP_SCAN_MATCHES_MAX 10000     /* scan action: matches listed in one result */
#define BN_RESP_SCAN_PATHS_MAX 256         /* scan action: paths in one request */
#define BN_RESP_RULES_TEXT_MAX (4u << 20)  /* scan action: bytes of inline rule text */
#define BN_FOR_FILES_MAX 256               /* forensics: chosen files in one package */
#define BN_FOR_FILE_SIZE_MAX (32u << 20)   /* forensics: bytes of one chosen file */
#define BN_FOR_EVENTS_MAX 100000           /* forensics: recent event lines */
#define BN_FOR_MEMBER_MAX (64u << 20)      /* forensics: bytes of one generated member */
#define BN_FOR_PROCS_MAX 65536             /* forensics: processes listed */
#define BN_FOR_FDS_MAX 4096                /* forensics: open files listed per process */
#define BN_FOR_PACKAGE_MAX (1ull << 30)    /* forensics: bytes of the uncompressed archive */

/* --- response: quarantine vault and configuration baselines (src/agent/respond_vault.c,
 * respond_baseline.c) --- */
#define BN_RESP_PARAMS_MAX (64u << 10)      /* bytes of one action's params JSON */
#define BN_VAULT_ITEM_MAX (256ull << 20)    /* bytes of one quarantined file */
#define BN_VAULT_ITEMS_MAX 10000            /* items kept in one vault */
#define BN_VAULT_META_MAX (64u << 10)       /* bytes of one item's metadata JSON */
#define BN_VAULT_CHUNK (64u << 10)          /* plaintext bytes per secretstream message */
#define BN_VAULT_TEXT_MAX 1024              /* bytes of a reason or actor string */
#define BN_BASELINE_FILES_MAX 20000         /* files one baseline covers */
#define BN_BASELINE_FILE_MAX (16u << 20)    /* bytes of one baselined file */
#define BN_BASELINE_INDEX_MAX (32u << 20)   /* bytes of the baseline index JSON */
#define BN_BASELINE_DEPTH_MAX 8             /* directory depth of a recursive watch */
#define BN_BASELINE_DIFF_LINES_MAX 200000   /* lines per side a diff compares */
#define BN_BASELINE_DIFF_D_MAX 1000         /* edits searched before a full replace (8 MB) */
#define BN_BASELINE_DIFF_MAX (1u << 20)     /* bytes of one diff text in a result */

/* respond: exec blocking and process actions (respond_block.c, respond_proc.c) */
#define BN_RESP_BLOCK_RULES_MAX 4096          /* rules in the block list */
#define BN_RESP_BLOCK_LIST_MAX (4u << 20)     /* bytes of the persisted block list JSON */
#define BN_RESP_BLOCK_PATH_MAX 4096           /* bytes of a path rule */
#define BN_RESP_BLOCK_COMMENT_MAX 1024        /* bytes of a rule's comment */
#define BN_RESP_BLOCK_YARA_MAX (256u << 10)   /* bytes of one YARA rule text */
#define BN_RESP_BLOCK_MARKS_MAX 64            /* marked mounts / directories */
#define BN_RESP_BLOCK_DEADLINE_US 20000       /* default answer deadline of an exec event */
#define BN_RESP_BLOCK_HASH_MAX (512ull << 20) /* bytes hashed per file; larger: policy */
#define BN_RESP_BLOCK_CACHE_SLOTS 8192        /* default decision cache slots */
#define BN_RESP_BLOCK_CACHE_SLOTS_MAX (1u << 20)
#define BN_RESP_PROC_TREE_MAX 4096            /* processes one tree action acts on */

/* --- response: forensic package upload and attachments (src/wire/frame.c, src/agent/uplink.c,
 * src/manager/attach.c; docs/RESPONSE.md "Upload and attachment") --- */
#define BN_WIRE_CHUNK_MAX (1u << 20)          /* bytes of one FILE_CHUNK's data */
#define BN_ATTACH_NAME_MAX 128                /* bytes of an attachment's file name */
#define BN_ATTACH_SIZE_MAX (64ull << 20)      /* bytes of one attachment the manager accepts
                                               * (= BN_API_RESPONSE_MAX: the API serves it whole) */
#define BN_ATTACH_UPLOADS_MAX 64              /* packages an agent keeps waiting for upload */

/* --- network sensor: HTTP/2 and header lists (sscore3: src/sensor/app_http2*.c, app_http.c;
 * docs/SENSOR.md "Application protocols") --- */
#define BN_NET_H2_FRAME_BUF_MAX (64u << 10)  /* bytes of a non-DATA frame payload kept (the
                                              * rest skipped, counted as a limit drop) */
#define BN_NET_H2_HBLOCK_MAX (64u << 10)     /* bytes of one header block (HEADERS +
                                              * CONTINUATION) */
#define BN_NET_H2_STREAMS_MAX 64             /* open streams tracked per connection */
#define BN_NET_H2_DYN_TABLE_MAX (64u << 10)  /* HPACK dynamic table bytes (RFC 7541 sizes) */
#define BN_NET_H2_STRING_MAX 8192            /* bytes of one decoded header name or value */
#define BN_NET_H2_BODY_MAX 65535             /* DoH message bytes kept from a stream body */
#define BN_NET_HTTP_HDRLIST_MAX 64           /* headers kept per message (dump-all-headers) */
#define BN_NET_HTTP_HDRBYTES_MAX (16u << 10) /* name + value bytes kept per message */

/* ---- manager store: event blocks (schema 6; store_sqlite_zstd.c) ---- */
#define BN_STORE_BLOCK_RAW_MAX (2u << 20) /* event text per zstd block (one event may exceed it) */
#define BN_STORE_BLOCK_CACHE 16           /* decompressed blocks a store handle keeps for reads */

#endif
