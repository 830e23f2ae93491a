/*
 * api_routes.c - the route table: method, OpenAPI path template, the roles allowed, flags and
 * the handler. docs/openapi.yaml describes the same routes (x-roles, x-tenant-scoped) and
 * tests/unit/manager/test_api_rbac.c holds this table and the handlers to it: a route missing
 * from the spec, or a role answered differently than the spec says, fails the test.
 */
#include "manager/api_int.h"

#define PA AUTH_R_PROVIDER_ADMIN
#define AN AUTH_R_ANALYST
#define CA AUTH_R_CUSTOMER_ADMIN
#define CV AUTH_R_CUSTOMER_VIEWER
#define ANY AUTH_R_ANY

const struct api_route api_route_table[] = {
    {"GET", "/api/v1/health", ANY, API_F_PUBLIC, api_h_health},
    {"POST", "/api/v1/auth/login", ANY, API_F_PUBLIC, api_h_login},
    {"POST", "/api/v1/auth/logout", ANY, 0, api_h_logout},
    {"GET", "/api/v1/me", ANY, 0, api_h_me},
    {"GET", "/api/v1/_routes", PA, 0, api_h_routes},
    {"GET", "/metrics", PA | AN, 0, api_h_prom_metrics},

    {"GET", "/api/v1/tenants", ANY, 0, api_h_tenant_list},
    {"POST", "/api/v1/tenants", PA, 0, api_h_tenant_create},
    {"GET", "/api/v1/tenants/{tenant_id}", ANY, 0, api_h_tenant_get},
    {"PATCH", "/api/v1/tenants/{tenant_id}", PA, 0, api_h_tenant_update},

    {"GET", "/api/v1/users", PA | CA, 0, api_h_user_list},
    {"POST", "/api/v1/users", PA | CA, 0, api_h_user_create},
    {"GET", "/api/v1/users/{user_id}", PA | CA, 0, api_h_user_get},
    {"PATCH", "/api/v1/users/{user_id}", PA | CA, 0, api_h_user_update},
    {"DELETE", "/api/v1/users/{user_id}", PA | CA, 0, api_h_user_delete},

    {"GET", "/api/v1/tokens", ANY, 0, api_h_token_list},
    {"POST", "/api/v1/tokens", ANY, 0, api_h_token_create},
    {"DELETE", "/api/v1/tokens/{token_id}", ANY, 0, api_h_token_delete},

    {"GET", "/api/v1/enrollment-tokens", PA | CA, 0, api_h_enroll_list},
    {"POST", "/api/v1/enrollment-tokens", PA | CA, 0, api_h_enroll_create},
    {"DELETE", "/api/v1/enrollment-tokens/{token_id}", PA | CA, 0, api_h_enroll_delete},

    {"GET", "/api/v1/agents", ANY, 0, api_h_agent_list},
    {"GET", "/api/v1/agents/{agent_id}", ANY, 0, api_h_agent_get},
    {"PATCH", "/api/v1/agents/{agent_id}", PA | AN | CA, 0, api_h_agent_update},
    {"POST", "/api/v1/agents/{agent_id}/revoke", PA | CA, 0, api_h_agent_revoke},

    {"GET", "/api/v1/events", ANY, 0, api_h_event_search},

    {"GET", "/api/v1/alerts", ANY, 0, api_h_alert_list},
    {"GET", "/api/v1/alerts/{alert_id}", ANY, 0, api_h_alert_get},
    {"POST", "/api/v1/alerts/{alert_id}/suppress", PA | AN | CA, 0, api_h_alert_suppress},

    {"GET", "/api/v1/incidents", ANY, 0, api_h_incident_list},
    {"GET", "/api/v1/incidents/{incident_id}", ANY, 0, api_h_incident_get},
    {"PATCH", "/api/v1/incidents/{incident_id}", PA | AN | CA, 0, api_h_incident_update},
    {"POST", "/api/v1/incidents/{incident_id}/notes", PA | AN | CA, 0, api_h_incident_note},
    {"GET", "/api/v1/incidents/{incident_id}/timeline", ANY, 0, api_h_incident_timeline},

    {"GET", "/api/v1/rules", ANY, 0, api_h_rule_list},
    {"POST", "/api/v1/rules", PA | AN, API_F_IMPORT, api_h_rule_upload},
    {"PATCH", "/api/v1/rules/{rule_id}", PA | AN | CA, 0, api_h_rule_update},

    {"GET", "/api/v1/suppressions", ANY, 0, api_h_suppression_list},
    {"DELETE", "/api/v1/suppressions/{suppression_id}", PA | AN | CA, 0,
     api_h_suppression_delete},

    {"GET", "/api/v1/ioc-lists", ANY, 0, api_h_ioc_list_list},
    {"POST", "/api/v1/ioc-lists", PA | AN | CA, API_F_IMPORT, api_h_ioc_list_create},
    {"GET", "/api/v1/ioc-lists/{list_id}/entries", ANY, 0, api_h_ioc_list_entries},
    {"DELETE", "/api/v1/ioc-lists/{list_id}", PA | AN | CA, 0, api_h_ioc_list_delete},

    {"GET", "/api/v1/channels", PA | AN | CA, 0, api_h_channel_list},
    {"POST", "/api/v1/channels", PA | CA, 0, api_h_channel_create},
    {"DELETE", "/api/v1/channels/{channel_id}", PA | CA, 0, api_h_channel_delete},
    {"POST", "/api/v1/channels/{channel_id}/test", PA | AN | CA, 0, api_h_channel_test},

    {"GET", "/api/v1/audit", PA | CA, 0, api_h_audit_list},
    {"GET", "/api/v1/soc-metrics", ANY, 0, api_h_soc_metrics},
};

const size_t api_route_count = sizeof(api_route_table) / sizeof(api_route_table[0]);
