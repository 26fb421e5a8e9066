#!/usr/bin/env bash
# The whole test suite: type-check, start the real servers the tests need,
# run every test with Node's test runner, stop the servers. `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)

# Debian packages the tests use as real clients (psql for `stint connect`).
missing=()
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
{ command -v mariadbd || command -v mysqld; } >/dev/null 2>&1 || missing+=(mariadb-server)
[ -x /usr/sbin/slapd ] || missing+=(slapd ldap-utils)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v sudo >/dev/null 2>&1 || missing+=(sudo)
command -v crontab >/dev/null 2>&1 || missing+=(cron)
command -v atq >/dev/null 2>&1 || missing+=(at)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# Standard security tools the suite runs against a broker it starts (issue 12).
command -v ssh-audit >/dev/null 2>&1 || missing+=(ssh-audit)
command -v sslscan >/dev/null 2>&1 || missing+=(sslscan)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# A Samba AD domain controller and its real clients (issue 19).
[ -x /usr/sbin/samba ] && [ -x /usr/bin/samba-tool ] || missing+=(samba samba-ad-dc samba-ad-provision winbind)
command -v kinit >/dev/null 2>&1 || missing+=(krb5-user)
command -v smbclient >/dev/null 2>&1 || missing+=(smbclient)
command -v ldapsearch >/dev/null 2>&1 || missing+=(ldap-utils)
{ command -v keystone-manage && command -v uwsgi-core && [ -e /usr/lib/uwsgi/plugins/python3_plugin.so ]; } >/dev/null 2>&1 || missing+=(keystone python3-keystone uwsgi-core uwsgi-plugin-python3)
# The access report's PDF is checked with pdftotext; the SIEM export goes to a real rsyslog (issue 17).
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
[ -x /usr/sbin/rsyslogd ] || missing+=(rsyslog)
# A load balancer in front of several brokers (issue 15).
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "== type-check (tsc --noEmit)"
npx tsc --noEmit
npx tsc -p web --noEmit

echo "== lint (eslint, prettier --check)"
npm run --silent lint

# The web UI the broker serves (npm ci's prepare builds it; build it if missing).
[ -f web/dist/index.html ] || { echo "== building the web UI"; npm run build:web; }
# The compiled CLI and server the tests run as child processes (bin/stint.js
# runs dist/): always rebuilt, so a stale dist/ is never what is tested.
echo "== build (dist/)"
npm run --silent build

work=$(mktemp -d /tmp/stint-test-XXXXXX)
servers_pid=""
cleanup() {
  if [ -n "$servers_pid" ] && kill -0 "$servers_pid" 2>/dev/null; then
    kill -TERM "$servers_pid" 2>/dev/null || true
    wait "$servers_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== starting test servers"
node --import tsx scripts/test-servers.ts >"$work/env" 2>"$work/servers.log" &
servers_pid=$!
for _ in $(seq 1 1500); do
  grep -q '^READY=1$' "$work/env" 2>/dev/null && break
  if ! kill -0 "$servers_pid" 2>/dev/null; then cat "$work/servers.log" >&2; echo "test servers failed to start" >&2; exit 1; fi
  sleep 0.2
done
grep -q '^READY=1$' "$work/env" || { cat "$work/servers.log" >&2; echo "test servers did not become ready" >&2; exit 1; }
set -a; . <(grep -v '^READY=' "$work/env"); set +a

echo "== tests"
# Browser and integration files first, unit files last: the long files start while every slot is
# free instead of running alone at the end (longest first shortens the whole run).
mapfile -t files < <(find src scripts bench -name '*.test.ts' 2>/dev/null | sort | awk '/\.e2e\.test\.ts$/ { print 0, $0; next } /\.int\.test\.ts$/ { print 1, $0; next } { print 2, $0 }' | sort -s -k1,1n | cut -d' ' -f2-)
node --import tsx --test --test-concurrency="${STINT_TEST_CONCURRENCY:-4}" "${files[@]}"

# The other supported line: stint demo and the unit tests on Node 24 from the npm registry.
bash scripts/test-node24.sh
echo "== suite wall time: $(( $(date +%s) - started ))s"
