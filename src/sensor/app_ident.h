/*
 * app_ident.h - content probes of the identification-only protocols added for Suricata's
 * app_proto names (app.c): each returns 1 (this protocol), 0 (not) or -1 (need more bytes),
 * like every net_app_parser probe. The rules are documented beside each probe in app.c.
 */
#ifndef BANNIN_SENSOR_APP_IDENT_H
#define BANNIN_SENSOR_APP_IDENT_H

#include <stddef.h>
#include <stdint.h>

#include "sensor/sensor.h"

int app_probe_dnp3(const uint8_t *d, size_t n, enum net_dir dir);
int app_probe_bt_dht(const uint8_t *d, size_t n, enum net_dir dir);
int app_probe_pgsql(const uint8_t *d, size_t n, enum net_dir dir);
int app_probe_rfb(const uint8_t *d, size_t n, enum net_dir dir);
int app_probe_dcerpc(const uint8_t *d, size_t n, enum net_dir dir);
int app_probe_dhcp(const uint8_t *d, size_t n, enum net_dir dir);
int app_probe_ike(const uint8_t *d, size_t n, enum net_dir dir);
int app_probe_imap(const uint8_t *d, size_t n, enum net_dir dir);
int app_probe_pop3(const uint8_t *d, size_t n, enum net_dir dir);
int app_probe_sip(const uint8_t *d, size_t n, enum net_dir dir);
int app_probe_ntp(const uint8_t *d, size_t n, enum net_dir dir);
int app_probe_xmpp(const uint8_t *d, size_t n, enum net_dir dir);

#endif
