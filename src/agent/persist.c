/*
 * persist.c - classification of file paths into persistence and tamper categories.
 *
 * A small fixed table, matched after lexical normalisation of the path, so that
 * "/etc//cron.d/./x" and "/tmp/../etc/shadow" are recognised like their clean forms.
 * Home-directory entries match under /root and under /home/<user>.
 */
#include <stddef.h>
#include <string.h>

#include "bannin/config.h" /* struct bn_conf_def, used by agent.h */
#include "agent/persist.h"
#include "bannin/common.h"

enum match {
    M_EXACT = 1,   /* the path itself */
    M_UNDER,       /* anything below the directory (not the directory itself) */
    M_HOME_EXACT,  /* /root/<rel> or /home/<user>/<rel> */
    M_HOME_UNDER,  /* below /root/<rel>/ or /home/<user>/<rel>/ */
    M_BASENAME,    /* last component, anywhere */
};

struct rule {
    enum match how;
    const char *pat;
    const char *category;
};

static const struct rule rules[] = {
    /* the agent itself (first: its unit file is also under a systemd directory) */
    {M_UNDER, "/etc/bannin", "tamper.agent"},
    {M_UNDER, "/var/lib/bannin", "tamper.agent"},
    {M_EXACT, "/usr/sbin/bannin-agent", "tamper.agent"},
    {M_EXACT, "/usr/bin/bannin-agent", "tamper.agent"},
    {M_EXACT, "/usr/local/sbin/bannin-agent", "tamper.agent"},
    {M_EXACT, "/usr/local/bin/bannin-agent", "tamper.agent"},
    {M_EXACT, "/etc/systemd/system/bannin-agent.service", "tamper.agent"},
    {M_EXACT, "/usr/lib/systemd/system/bannin-agent.service", "tamper.agent"},
    {M_EXACT, "/lib/systemd/system/bannin-agent.service", "tamper.agent"},
    /* cron and at */
    {M_EXACT, "/etc/crontab", "persistence.cron"},
    {M_EXACT, "/etc/anacrontab", "persistence.cron"},
    {M_UNDER, "/etc/cron.d", "persistence.cron"},
    {M_UNDER, "/etc/cron.hourly", "persistence.cron"},
    {M_UNDER, "/etc/cron.daily", "persistence.cron"},
    {M_UNDER, "/etc/cron.weekly", "persistence.cron"},
    {M_UNDER, "/etc/cron.monthly", "persistence.cron"},
    {M_UNDER, "/var/spool/cron", "persistence.cron"},
    {M_UNDER, "/var/spool/at", "persistence.cron"},
    {M_UNDER, "/var/spool/anacron", "persistence.cron"},
    /* systemd units, timers, generators; SysV init */
    {M_UNDER, "/etc/systemd/system", "persistence.systemd"},
    {M_UNDER, "/etc/systemd/user", "persistence.systemd"},
    {M_UNDER, "/etc/systemd/system-generators", "persistence.systemd"},
    {M_UNDER, "/usr/lib/systemd/system", "persistence.systemd"},
    {M_UNDER, "/usr/lib/systemd/user", "persistence.systemd"},
    {M_UNDER, "/usr/lib/systemd/system-generators", "persistence.systemd"},
    {M_UNDER, "/lib/systemd/system", "persistence.systemd"},
    {M_UNDER, "/lib/systemd/user", "persistence.systemd"},
    {M_UNDER, "/lib/systemd/system-generators", "persistence.systemd"},
    {M_UNDER, "/run/systemd/system", "persistence.systemd"},
    {M_UNDER, "/run/systemd/transient", "persistence.systemd"},
    {M_HOME_UNDER, ".config/systemd/user", "persistence.systemd"},
    {M_HOME_UNDER, ".local/share/systemd/user", "persistence.systemd"},
    {M_UNDER, "/etc/init.d", "persistence.systemd"},
    {M_EXACT, "/etc/rc.local", "persistence.systemd"},
    /* desktop autostart */
    {M_UNDER, "/etc/xdg/autostart", "persistence.autostart"},
    {M_HOME_UNDER, ".config/autostart", "persistence.autostart"},
    /* shell profiles */
    {M_EXACT, "/etc/profile", "persistence.shell_profile"},
    {M_UNDER, "/etc/profile.d", "persistence.shell_profile"},
    {M_EXACT, "/etc/bash.bashrc", "persistence.shell_profile"},
    {M_EXACT, "/etc/bashrc", "persistence.shell_profile"},
    {M_EXACT, "/etc/bash.bash_logout", "persistence.shell_profile"},
    {M_EXACT, "/etc/environment", "persistence.shell_profile"},
    {M_UNDER, "/etc/zsh", "persistence.shell_profile"},
    {M_EXACT, "/etc/zshrc", "persistence.shell_profile"},
    {M_EXACT, "/etc/zprofile", "persistence.shell_profile"},
    {M_HOME_EXACT, ".bashrc", "persistence.shell_profile"},
    {M_HOME_EXACT, ".bash_profile", "persistence.shell_profile"},
    {M_HOME_EXACT, ".bash_login", "persistence.shell_profile"},
    {M_HOME_EXACT, ".bash_logout", "persistence.shell_profile"},
    {M_HOME_EXACT, ".profile", "persistence.shell_profile"},
    {M_HOME_EXACT, ".zshrc", "persistence.shell_profile"},
    {M_HOME_EXACT, ".zshenv", "persistence.shell_profile"},
    {M_HOME_EXACT, ".zprofile", "persistence.shell_profile"},
    {M_HOME_EXACT, ".zlogin", "persistence.shell_profile"},
    {M_HOME_EXACT, ".config/fish/config.fish", "persistence.shell_profile"},
    /* ssh */
    {M_BASENAME, "authorized_keys", "persistence.authorized_keys"},
    {M_BASENAME, "authorized_keys2", "persistence.authorized_keys"},
    {M_EXACT, "/etc/ssh/sshd_config", "persistence.ssh"},
    {M_UNDER, "/etc/ssh/sshd_config.d", "persistence.ssh"},
    {M_HOME_EXACT, ".ssh/rc", "persistence.ssh"},
    {M_EXACT, "/etc/ssh/sshrc", "persistence.ssh"},
    /* accounts and privilege */
    {M_EXACT, "/etc/passwd", "persistence.account"},
    {M_EXACT, "/etc/shadow", "persistence.account"},
    {M_EXACT, "/etc/group", "persistence.account"},
    {M_EXACT, "/etc/gshadow", "persistence.account"},
    {M_EXACT, "/etc/subuid", "persistence.account"},
    {M_EXACT, "/etc/subgid", "persistence.account"},
    {M_EXACT, "/etc/sudoers", "persistence.sudoers"},
    {M_UNDER, "/etc/sudoers.d", "persistence.sudoers"},
    {M_EXACT, "/etc/doas.conf", "persistence.sudoers"},
    /* dynamic linker */
    {M_EXACT, "/etc/ld.so.preload", "persistence.ld_preload"},
    {M_EXACT, "/etc/ld.so.conf", "persistence.ld_preload"},
    {M_UNDER, "/etc/ld.so.conf.d", "persistence.ld_preload"},
    /* PAM */
    {M_EXACT, "/etc/pam.conf", "persistence.pam"},
    {M_UNDER, "/etc/pam.d", "persistence.pam"},
    {M_UNDER, "/etc/security", "persistence.pam"},
    {M_UNDER, "/lib/security", "persistence.pam"},
    {M_UNDER, "/lib64/security", "persistence.pam"},
    {M_UNDER, "/lib/x86_64-linux-gnu/security", "persistence.pam"},
    {M_UNDER, "/usr/lib/x86_64-linux-gnu/security", "persistence.pam"},
    {M_UNDER, "/lib/aarch64-linux-gnu/security", "persistence.pam"},
    {M_UNDER, "/usr/lib/aarch64-linux-gnu/security", "persistence.pam"},
    {M_UNDER, "/usr/lib/security", "persistence.pam"},
    /* kernel modules */
    {M_UNDER, "/lib/modules", "persistence.kernel_module"},
    {M_UNDER, "/usr/lib/modules", "persistence.kernel_module"},
    {M_EXACT, "/etc/modules", "persistence.kernel_module"},
    {M_UNDER, "/etc/modules-load.d", "persistence.kernel_module"},
    {M_UNDER, "/usr/lib/modules-load.d", "persistence.kernel_module"},
    {M_UNDER, "/etc/modprobe.d", "persistence.kernel_module"},
    {M_UNDER, "/usr/lib/modprobe.d", "persistence.kernel_module"},
};

/*
 * Writes the lexically normalised form of an absolute path into out (size bytes):
 * repeated slashes collapse, "." disappears, ".." pops a component (never above "/"),
 * no trailing slash. Returns the length, or -1 if relative or too long.
 */
static long
normalize(const char *path, char *out, size_t size)
{
    size_t n = 0;
    const char *p = path;

    if (!path || path[0] != '/' || size < 2)
        return -1;
    out[n++] = '/';
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - s);
        if (len == 1 && s[0] == '.')
            continue;
        if (len == 2 && s[0] == '.' && s[1] == '.') {
            /* drop the last component, keeping the leading slash */
            while (n > 1 && out[n - 1] != '/')
                n--;
            if (n > 1)
                n--;
            continue;
        }
        if (n > 1) {
            if (n + 1 >= size)
                return -1;
            out[n++] = '/';
        }
        if (n + len >= size)
            return -1;
        memcpy(out + n, s, len);
        n += len;
    }
    out[n] = '\0';
    return (long)n;
}

/* Returns the part of path after /root/ or /home/<user>/, or NULL. */
static const char *
home_rel(const char *path)
{
    if (strncmp(path, "/root/", 6) == 0)
        return path + 6;
    if (strncmp(path, "/home/", 6) == 0) {
        const char *u = path + 6;
        const char *slash = strchr(u, '/');
        if (slash && slash > u)
            return slash + 1;
    }
    return NULL;
}

static bool
is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

static bool
rule_matches(const struct rule *r, const char *path, const char *rel, const char *base)
{
    switch (r->how) {
    case M_EXACT:
        /* both start with '/': the byte after it rejects most paths (a build's /tmp/cc*.s
         * against the /etc, /usr, /lib, /var, /run entries) without a string compare */
        return path[1] == r->pat[1] && strcmp(path, r->pat) == 0;
    case M_UNDER:
        return path[1] == r->pat[1] && is_under(path, r->pat);
    case M_HOME_EXACT:
        return rel && strcmp(rel, r->pat) == 0;
    case M_HOME_UNDER: {
        size_t n = strlen(r->pat);
        return rel && strncmp(rel, r->pat, n) == 0 && rel[n] == '/' && rel[n + 1] != '\0';
    }
    case M_BASENAME:
        return strcmp(base, r->pat) == 0;
    }
    return false;
}

const char *
agent_persist_classify(const char *path)
{
    char norm[AGENT_PATH_MAX];

    if (normalize(path, norm, sizeof(norm)) < 0)
        return NULL;
    const char *rel = home_rel(norm);
    const char *base = strrchr(norm, '/') + 1;
    for (size_t i = 0; i < BN_ARRAY_SIZE(rules); i++) {
        if (rule_matches(&rules[i], norm, rel, base))
            return rules[i].category;
    }
    return NULL;
}

const char *
agent_persist_tag(struct agent_event *ev)
{
    const char *cat = NULL;

    if (!ev)
        return NULL;
    ev->persist_tagged = true;
    if (ev->path)
        cat = agent_persist_classify(ev->path);
    if (!cat && ev->path2)
        cat = agent_persist_classify(ev->path2);
    if (cat) {
        ev->category = cat;
        if (ev->prio < AGENT_PRIO_HIGH)
            ev->prio = AGENT_PRIO_HIGH;
    }
    return cat;
}
