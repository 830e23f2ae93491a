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

/* One route; its handler api_h_<name> and the spec's operationId are the same name. */
#define R(method, path, roles, flags, name) {method, path, roles, flags, api_h_##name, #name}

const struct api_route api_route_table[] = {
    R("GET", "/api/v1/health", ANY, API_F_PUBLIC, health),
    R("POST", "/api/v1/auth/login", ANY, API_F_PUBLIC, login),
    R("POST", "/api/v1/auth/logout", ANY, 0, logout),
    R("GET", "/api/v1/me", ANY, 0, me),
    R("GET", "/api/v1/_routes", PA, 0, routes),
    R("GET", "/metrics", PA | AN, 0, prom_metrics),

    R("GET", "/api/v1/tenants", ANY, 0, tenant_list),
    R("POST", "/api/v1/tenants", PA, 0, tenant_create),
    R("GET", "/api/v1/tenants/{tenant_id}", ANY, 0, tenant_get),
    R("PATCH", "/api/v1/tenants/{tenant_id}", PA, 0, tenant_update),

    R("GET", "/api/v1/users", PA | CA, 0, user_list),
    R("POST", "/api/v1/users", PA | CA, 0, user_create),
    R("GET", "/api/v1/users/{user_id}", PA | CA, 0, user_get),
    R("PATCH", "/api/v1/users/{user_id}", PA | CA, 0, user_update),
    R("DELETE", "/api/v1/users/{user_id}", PA | CA, 0, user_delete),

    R("GET", "/api/v1/tokens", ANY, 0, token_list),
    R("POST", "/api/v1/tokens", ANY, 0, token_create),
    R("DELETE", "/api/v1/tokens/{token_id}", ANY, 0, token_delete),

    R("GET", "/api/v1/enrollment-tokens", PA | CA, 0, enroll_list),
    R("POST", "/api/v1/enrollment-tokens", PA | CA, 0, enroll_create),
    R("DELETE", "/api/v1/enrollment-tokens/{token_id}", PA | CA, 0, enroll_delete),

    R("GET", "/api/v1/agents", ANY, 0, agent_list),
    R("GET", "/api/v1/agents/{agent_id}", ANY, 0, agent_get),
    R("PATCH", "/api/v1/agents/{agent_id}", PA | AN | CA, 0, agent_update),
    R("POST", "/api/v1/agents/{agent_id}/revoke", PA | CA, 0, agent_revoke),

    R("GET", "/api/v1/events", ANY, 0, event_search),

    R("GET", "/api/v1/alerts", ANY, 0, alert_list),
    R("GET", "/api/v1/alerts/{alert_id}", ANY, 0, alert_get),
    R("POST", "/api/v1/alerts/{alert_id}/suppress", PA | AN | CA, 0, alert_suppress),

    R("GET", "/api/v1/incidents", ANY, 0, incident_list),
    R("GET", "/api/v1/incidents/{incident_id}", ANY, 0, incident_get),
    R("PATCH", "/api/v1/incidents/{incident_id}", PA | AN | CA, 0, incident_update),
    R("POST", "/api/v1/incidents/{incident_id}/notes", PA | AN | CA, 0, incident_note),
    R("GET", "/api/v1/incidents/{incident_id}/timeline", ANY, 0, incident_timeline),

    R("GET", "/api/v1/rules", ANY, 0, rule_list),
    R("POST", "/api/v1/rules", PA | AN, API_F_IMPORT, rule_upload),
    R("PATCH", "/api/v1/rules/{rule_id}", PA | AN | CA, 0, rule_update),

    R("GET", "/api/v1/suppressions", ANY, 0, suppression_list),
    R("DELETE", "/api/v1/suppressions/{suppression_id}", PA | AN | CA, 0, suppression_delete),

    R("GET", "/api/v1/ioc-lists", ANY, 0, ioc_list_list),
    R("POST", "/api/v1/ioc-lists", PA | AN | CA, API_F_IMPORT, ioc_list_create),
    R("GET", "/api/v1/ioc-lists/{list_id}/entries", ANY, 0, ioc_list_entries),
    R("DELETE", "/api/v1/ioc-lists/{list_id}", PA | AN | CA, 0, ioc_list_delete),

    R("GET", "/api/v1/channels", PA | AN | CA, 0, channel_list),
    R("POST", "/api/v1/channels", PA | CA, 0, channel_create),
    R("DELETE", "/api/v1/channels/{channel_id}", PA | CA, 0, channel_delete),
    R("POST", "/api/v1/channels/{channel_id}/test", PA | AN | CA, 0, channel_test),

    R("GET", "/api/v1/audit", PA | CA, 0, audit_list),
    R("GET", "/api/v1/soc-metrics", ANY, 0, soc_metrics),

    /* Response actions (api_actions.c): the handlers check the roles themselves (x-roles in
     * docs/openapi.yaml say who succeeds) so a refusal is audited. */
    R("POST", "/api/v1/agents/{agent_id}/actions", ANY, 0, action_request),
    R("GET", "/api/v1/actions", ANY, 0, action_list),
    R("GET", "/api/v1/actions/{action_id}", ANY, 0, action_get),
    R("POST", "/api/v1/actions/{action_id}/approve", ANY, 0, action_approve),
    R("POST", "/api/v1/actions/{action_id}/reject", ANY, 0, action_reject),
    R("GET", "/api/v1/tenants/{tenant_id}/response-policy", ANY, 0, response_policy_get),
    R("PUT", "/api/v1/tenants/{tenant_id}/response-policy", PA | CA, 0, response_policy_set),
    /* Attachments (attach_api.c): forensic packages uploaded by agents. */
    R("GET", "/api/v1/incidents/{incident_id}/attachments", PA | AN | CA, 0, attachment_list),
    R("GET", "/api/v1/attachments/{attachment_id}", PA | AN | CA, 0, attachment_get),
};

const size_t api_route_count = sizeof(api_route_table) / sizeof(api_route_table[0]);
