#!/usr/bin/env bash
# README command 1: a demo hub at http://127.0.0.1:8000 using the kit.
#   sudo ./scripts/demo.sh
# Installs what is missing, prints how to log in, then runs the hub in the
# foreground (Ctrl-C stops it, its servers, and a dockerd this script started).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap stop_dockerd_if_started EXIT
ensure_all

demo="$KIT_STATE/demo"
mkdir -p "$demo"
# JupyterHub wants the admins' shared password at least 32 characters long; the
# API token is the demo's admin CLI's (demo_config.py: service "demo-admin-cli")
for f in password:12 admin-password:24 api-token:32; do
    if [ ! -s "$demo/${f%%:*}" ]; then
        (umask 077; python -c "import secrets; print(secrets.token_urlsafe(${f#*:}))" >"$demo/${f%%:*}")
    fi
done
if [ ! -s "$demo/userlist" ]; then
    printf '%s\n' "teacher admin group:teachers" "student1" "student2" >"$demo/userlist"
fi
net=jhub-kit-demo
docker network inspect "$net" >/dev/null 2>&1 || docker network create "$net" >/dev/null
gateway=$(docker network inspect -f '{{(index .IPAM.Config 0).Gateway}}' "$net")
export JHUB_KIT_DEMO_DIR="$demo" JHUB_KIT_DEMO_PASSWORD="$(cat "$demo/password")"
export JHUB_KIT_DEMO_ADMIN_PASSWORD="$(cat "$demo/admin-password")"
export JHUB_KIT_DEMO_NETWORK="$net" JHUB_KIT_DEMO_HUB_IP="$gateway"
cat >&2 <<MSG

  jhub_kit demo hub: http://127.0.0.1:8000
  users:    teacher (admin, group "teachers": 1G memory, 2 CPUs, 2G home)
            student1, student2 (512M memory, 1 CPU, 128 processes, 1G home)
  password: $JHUB_KIT_DEMO_PASSWORD   (every student; kept in $demo/password)
  teacher:  $JHUB_KIT_DEMO_ADMIN_PASSWORD   (the userlist's admins; kept in $demo/admin-password)
  class dashboard (teacher): http://127.0.0.1:8000/services/class-dashboard/
  userlist: $demo/userlist (edit it while the hub runs: add a line to let someone in)
  homes:    a 1G/2G ext4 image per user in $demo/homes, kept across restarts
  network:  servers on Docker network $net, reaching only the hub ($gateway) and the internet
  Check a server's limits:  sudo $KIT_VENV/bin/jhub-kit server inspect student1 --token-file $demo/api-token
            (its container, from the warm pool or not, and the limits the engine enforces)
  Stop with Ctrl-C.

MSG
cd "$demo"
exec_hub() { jupyterhub -f "$KIT_ROOT/scripts/demo_config.py" "$@"; }
exec_hub "$@"
