#!/usr/bin/env bash
# Checks the local services the test suite talks to and starts any that is down.
# PostgreSQL (127.0.0.1:5432, trust) and Redis (127.0.0.1:6379) come with this kind of machine.
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 5432; then
  if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql >/dev/null 2>&1; then
    echo "ensure-services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  else
    echo "ensure-services: PostgreSQL is not installed; Postgres-backed tests will be skipped with a reason" >&2
  fi
fi
if ! port_open 6379 && command -v redis-server >/dev/null; then
  echo "ensure-services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi
exit 0
