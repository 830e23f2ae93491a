# lib.sh - what the integration tests share; sourced (`. "$(dirname "$0")/lib.sh"`), never run.
# Checks and counters (ok, bad, fails, bn_skip, bn_need_*), free loopback ports, JSON through
# python3 (jq_py), and a manager from --init to a logged-in admin (bn_mgr_init, bn_wait_api,
# bn_login, bn_call). Each test keeps its own temp dir, cleanup trap and processes: what it
# starts it stops.

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

# Exit 77 (CTest: skipped) with the reason.
bn_skip() { echo "skip: $*"; exit 77; }
# bn_need_exec FILE...: each must be an executable (a built program).
bn_need_exec() {
    local f
    for f in "$@"; do [ -x "$f" ] || bn_skip "$f not built"; done
}
# bn_need_root WHY
bn_need_root() { [ "$(id -u)" = 0 ] || bn_skip "needs root ($1)"; }
# bn_need_cmd CMD [WHY]
bn_need_cmd() { command -v "$1" >/dev/null || bn_skip "$1 missing${2:+ ($2)}"; }
# Sets PY to python3 (the system one first).
bn_need_python() {
    PY=/usr/bin/python3
    [ -x "$PY" ] || PY=$(command -v python3) || bn_skip "python3 missing"
}

# A TCP port on 127.0.0.1 free at the moment of asking.
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# jq_py CODE: runs CODE with d = the JSON document on stdin.
jq_py() { "$PY" -c "import sys,json; d=json.load(sys.stdin); $1"; }

# bn_mgr_init DATA_DIR OUT_FILE: bannind --init ($MGR); PASS = the admin password it prints
# once. Returns non-zero (OUT_FILE shown) when init fails or prints no password.
bn_mgr_init() {
    PASS=
    "$MGR" --data "$1" --init > "$2" 2>&1 || { cat "$2"; return 1; }
    PASS=$(sed -n 's/^password: //p' "$2")
    [ -n "$PASS" ]
}
# bn_wait_api [TRIES]: waits until $API/health answers (TRIES x 0.2 s, default 100).
bn_wait_api() {
    local _
    for _ in $(seq 1 "${1:-100}"); do
        curl -sf "$API/health" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    curl -sf "$API/health" >/dev/null 2>&1
}
# bn_login USER PASSWORD: prints the session token ("" when refused).
bn_login() {
    curl -s -X POST "$API/auth/login" -d "{\"username\":\"$1\",\"password\":\"$2\"}" |
        jq_py 'print(d.get("token",""))'
}
# bn_call TOKEN METHOD PATH [BODY]: prints the body; the HTTP status goes to $W/status
# (bn_status prints it) and the body also stays in $W/body.
bn_call() {
    curl -s -o "$W/body" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $1" \
        -H 'Content-Type: application/json' ${4:+-d "$4"} "$API$3" > "$W/status"
    cat "$W/body"
}
bn_status() { cat "$W/status"; }
# bn_api METHOD PATH [BODY]: the API as $TOKEN (the admin's session); prints the body.
bn_api() {
    curl -s -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        ${3:+-d "$3"} "$API$2"
}

# bn_mgr_start LOG ARG...: bannind ARG... in the background (MPID; output appended to LOG),
# then bn_wait_api; non-zero when the API does not come up.
bn_mgr_start() {
    local log=$1
    shift
    "$MGR" "$@" >> "$log" 2>&1 &
    MPID=$!
    bn_wait_api
}
# bn_enroll PROGRAM LINK_DIR OUT_FILE [ARG...]: a one-use enrolment token of tenant default
# (bannind --data "$W/mgr") and PROGRAM enroll with it on 127.0.0.1:$LINK_PORT into
# LINK_DIR; the output goes to OUT_FILE; returns enroll's status.
bn_enroll() {
    local prog=$1 dir=$2 out=$3 etok
    shift 3
    etok=$("$MGR" --data "$W/mgr" --new-token default --uses 1)
    "$prog" enroll --server "127.0.0.1:$LINK_PORT" --token "$etok" --dir "$dir" "$@" > "$out" 2>&1
}
# bn_wait_agent TOKEN: prints the id of the first agent the manager has seen (up to 30 s;
# "" when none).
bn_wait_agent() {
    local _ aid=
    for _ in $(seq 1 60); do
        aid=$(bn_call "$1" GET /agents |
            jq_py 'a=[x for x in d["items"] if x.get("last_seen")]; print(a[0]["id"] if a else "")')
        [ -n "$aid" ] && break
        sleep 0.5
    done
    echo "$aid"
}
# bn_mgr_start_any LOG ARG...: like bn_mgr_start for a bannind given --api 127.0.0.1:0 (the
# system picks the port): APORT = the port it prints (10 s at most). Non-zero when bannind
# exits first or prints no address.
bn_mgr_start_any() {
    local log=$1 _
    shift
    "$MGR" "$@" >> "$log" 2>&1 &
    MPID=$!
    APORT=
    for _ in $(seq 1 200); do
        APORT=$(sed -n 's|.*API on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$log")
        [ -n "$APORT" ] && return 0
        kill -0 "$MPID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
# bn_default_tenant TOKEN: prints the id of the tenant "default".
bn_default_tenant() {
    bn_call "$1" GET /tenants |
        jq_py 'print([t["id"] for t in d["items"] if t["name"]=="default"][0])'
}
# bn_customers PASSWORD: as $ADMIN, users cadmin (customer_admin) and cviewer
# (customer_viewer) of tenant $TID with PASSWORD; CADMIN and CVIEW = their sessions.
bn_customers() {
    local pw=$1 name role
    for name in cadmin cviewer; do
        role=customer_admin
        [ "$name" = cviewer ] && role=customer_viewer
        bn_call "$ADMIN" POST /users "{\"username\":\"$name\",\"password\":\"$pw\",\"role\":\"$role\",\"tenant_id\":$TID}" >/dev/null
        [ "$(bn_status)" = 201 ] || bad "create user $name: $(bn_status) $(cat "$W/body")"
    done
    CADMIN=$(bn_login cadmin "$pw")
    CVIEW=$(bn_login cviewer "$pw")
}

# bn_proc_rule FILE TITLE ID LEVEL MATCH VALUE [TAGS]: a Sigma rule on Linux process
# creation whose one selection is "MATCH: VALUE" (Image|contains, Image|endswith, ...), with
# ATT&CK TAGS ("attack.execution, attack.t1059") when given.
bn_proc_rule() {
    {
        printf 'title: %s\nid: %s\nstatus: test\nlevel: %s\n' "$2" "$3" "$4"
        [ -n "${7:-}" ] && printf 'tags: [%s]\n' "$7"
        printf 'logsource: {product: linux, category: process_creation}\n'
        printf "detection:\n  sel:\n    %s: '%s'\n  condition: sel\n" "$5" "$6"
    } > "$1"
}
