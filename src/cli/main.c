/*
 * main.c - `bannin`: the analyst's and detection engineer's command line.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "bannin/log.h"

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: bannin <command> [options]\n"
            "\n"
            "commands:\n"
            "  api     administer a manager over its HTTP API (tenants, users, tokens, agents, ...)\n"
            "  hunt    run Sigma rules over log files (EVTX, JSON, auditd, syslog, journald)\n"
            "  pcap    analyse capture files: flows, DNS/HTTP/TLS/SSH records, alerts (eve, Zeek)\n"
            "  rules   check rules (`rules check DIR`) or test them on their samples (`rules test DIR`)\n"
            "  scan    scan files and directories with YARA rules\n"
            "  version print the version\n"
            "\n"
            "`bannin <command> --help` describes each command.\n");
}

int cmd_admin(int argc, char **argv); /* admin.c */
int cmd_scan(int argc, char **argv);  /* scan.c */

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "api") == 0)
        return cmd_admin(argc - 1, argv + 1);
    if (strcmp(cmd, "hunt") == 0)
        return cmd_hunt(argc - 1, argv + 1);
    if (strcmp(cmd, "rules") == 0)
        return cmd_rules(argc - 1, argv + 1);
    if (strcmp(cmd, "scan") == 0)
        return cmd_scan(argc - 1, argv + 1);
    if (strcmp(cmd, "pcap") == 0)
        return cmd_pcap(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("bannin %s\n", BN_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "bannin: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
