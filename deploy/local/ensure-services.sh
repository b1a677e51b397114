#!/usr/bin/env bash
# ensure-services.sh makes sure the outside components the tests and
# `make run-distributed` need are installed and running on this machine:
#   - PostgreSQL (127.0.0.1:5432) with a role the store tests use,
#   - a NATS server with JetStream (127.0.0.1:4222),
#   - the command-line verifiers later suites call (openssl),
#   - axe-core, the accessibility engine the browser tests inject into the
#     hosted pages (npm ci into tools/internal/browser/axe/node_modules),
#   - the OpenAPI tools: Redocly CLI, Spectral, openapi-typescript with
#     TypeScript, and Redoc (npm ci into tools/internal/openapi-lint).
# It is idempotent and quick when everything is already there. It installs
# from Debian packages (apt-get) when something is missing, so it needs root
# on a fresh machine. Run by `make test` and by .ci/run.
set -euo pipefail

log() { printf 'ensure-services: %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		log "need root to run: $*"; return 1
	fi
}

apt_updated=0
apt_install() {
	if [ "$apt_updated" -eq 0 ]; then
		as_root apt-get update -qq
		apt_updated=1
	fi
	log "installing $*"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
	for _ in $(seq 1 60); do
		port_open "$1" && return 0
		sleep 0.5
	done
	log "nothing listens on 127.0.0.1:$1 after 30 s"
	return 1
}

# --- PostgreSQL -----------------------------------------------------------
if ! port_open 5432; then
	if ! command -v pg_ctlcluster >/dev/null; then
		apt_install postgresql postgresql-client
	fi
	version=$(ls /etc/postgresql | sort -n | tail -1)
	log "starting PostgreSQL $version"
	as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || as_root pg_ctlcluster "$version" main start
	wait_port 5432
fi
# The store tests connect over TCP as tamkeen_test (password auth works with
# Debian's default pg_hba.conf, and so does trust). Create the role once.
if command -v psql >/dev/null && ! PGPASSWORD=tamkeen_test psql -h 127.0.0.1 -U tamkeen_test -d postgres -tAc 'select 1' >/dev/null 2>&1; then
	log "creating the tamkeen_test role"
	as_root su postgres -c "psql -q -d postgres -c \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tamkeen_test') THEN CREATE ROLE tamkeen_test LOGIN CREATEDB PASSWORD 'tamkeen_test'; ELSE ALTER ROLE tamkeen_test LOGIN CREATEDB PASSWORD 'tamkeen_test'; END IF; END \\\$\\\$;\""
fi

# --- NATS with JetStream --------------------------------------------------
if ! port_open 4222; then
	if ! command -v nats-server >/dev/null; then
		apt_install nats-server
	fi
	log "starting nats-server with JetStream"
	as_root mkdir -p /var/lib/nats-server
	as_root start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server)" -- \
		-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
	wait_port 4222
fi

# --- outside verifiers ----------------------------------------------------
missing=()
command -v openssl >/dev/null || missing+=(openssl)
# auth: oathtool computes TOTP codes independently of our code
command -v oathtool >/dev/null || missing+=(oathtool)
# signature: SoftHSM2 (PKCS#11 CA key), pdfsig (PAdES), certutil (its NSS db)
command -v softhsm2-util >/dev/null || missing+=(softhsm2)
command -v pdfsig >/dev/null || missing+=(poppler-utils)
command -v certutil >/dev/null || missing+=(libnss3-tools)
# payment: headless Chromium pays on the sandbox checkout page
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
# the browser tests' accessibility engine (axe-core) comes from npm
command -v npm >/dev/null || missing+=(nodejs npm)
# docs/guides: the guide test runs every shell block (curl, jq) and the
# JavaScript callback recipe (node, from nodejs above)
command -v curl >/dev/null || missing+=(curl)
# tools/distributed: the kill-everything test SIGKILLs a nats-server of its own
command -v nats-server >/dev/null || missing+=(nats-server)
command -v jq >/dev/null || missing+=(jq)
# k8s: promtool checks and unit-tests the alert rules (Debian's prometheus)
command -v promtool >/dev/null || missing+=(prometheus)
if [ "${#missing[@]}" -gt 0 ]; then
	apt_install "${missing[@]}"
	# Only promtool is wanted: stop the server the package may have started.
	if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
		as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
	fi
fi

# --- axe-core for tools/internal/browser (Page.Axe) -----------------------
# npm ci installs exactly the version package-lock.json pins; it runs again
# only when the lock is newer than what was installed.
axe_dir="$(cd "$(dirname "$0")/../.." && pwd)/tools/internal/browser/axe"
if [ ! -f "$axe_dir/node_modules/axe-core/axe.min.js" ] || [ "$axe_dir/package-lock.json" -nt "$axe_dir/node_modules/.package-lock.json" ]; then
	log "installing axe-core (npm ci in $axe_dir)"
	npm ci --prefix "$axe_dir" --ignore-scripts --no-audit --no-fund >/dev/null
fi
# --- OpenAPI linters, openapi-typescript, tsc, Redoc -----------------------
# The same way: pinned by tools/internal/openapi-lint/package-lock.json.
openapi_dir="$(cd "$(dirname "$0")/../.." && pwd)/tools/internal/openapi-lint"
if [ ! -x "$openapi_dir/node_modules/.bin/redocly" ] || [ "$openapi_dir/package-lock.json" -nt "$openapi_dir/node_modules/.package-lock.json" ]; then
	log "installing the OpenAPI tools (npm ci in $openapi_dir)"
	npm ci --prefix "$openapi_dir" --ignore-scripts --no-audit --no-fund >/dev/null
fi
log "PostgreSQL and NATS are up"
