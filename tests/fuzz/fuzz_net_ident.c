/*
 * fuzz_net_ident.c - libFuzzer target for the sensor's protocol identification probes
 * (src/sensor/app.c: DNP3, BitTorrent DHT, PostgreSQL, RFB, DCE/RPC, DHCP, IKE, IMAP, POP3,
 * SIP, NTP, SMTP, FTP) and net_app_identify over TCP and UDP: any first bytes of a flow, in
 * either direction, must give "yes", "no" or "need more" (1, 0, -1) without reading past them.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sensor/app_int.h"
#include "sensor/app_ident.h"

typedef int (*probe_fn)(const uint8_t *, size_t, enum net_dir);

static const probe_fn probes[] = {
    app_probe_dnp3, app_probe_bt_dht, app_probe_pgsql, app_probe_rfb,  app_probe_dcerpc,
    app_probe_dhcp, app_probe_ike,    app_probe_imap,  app_probe_pop3, app_probe_sip,
    app_probe_ntp,  app_probe_smtp,   app_probe_ftp,
};

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    /* an exact-size heap copy, so ASan sees any read past the offered bytes */
    uint8_t *c = malloc(n ? n : 1);
    if (!c)
        return 0;
    memcpy(c, d, n);
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
        for (int dir = 0; dir < 2; dir++) {
            int r = probes[i](c, n, (enum net_dir)dir);
            if (r < -1 || r > 1)
                abort();
        }
    for (int dir = 0; dir < 2; dir++) {
        (void)net_app_identify(IPPROTO_TCP, c, n, (enum net_dir)dir);
        (void)net_app_identify(IPPROTO_UDP, c, n, (enum net_dir)dir);
    }
    free(c);
    return 0;
}
