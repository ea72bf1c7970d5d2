#!/usr/bin/env bash
# A local RegionChat fleet in one command (issue 13 item 4): redis-server, N servers and nginx on free loopback ports.
#
#   deploy/local/fleet.sh up --replicas N --dir DIR [--app APP_DIR] [--threads T] [-- SERVER_ARGS…]
#   deploy/local/fleet.sh down --dir DIR
#
# up starts redis-server (persistence off), N servers (each told the store: --RegionChat:SessionStore:Redis=127.0.0.1:PORT)
# and nginx with deploy/nginx/regionchat.conf in front of them, waits until every server answers /health/ready and nginx
# listens, writes DIR/endpoints.json and returns:
#   {"grpc": "http://127.0.0.1:G", "http": "http://127.0.0.1:H", "redis": "redis://127.0.0.1:R",
#    "replicas": [{"pid": P, "grpc": "http://127.0.0.1:…", "http": "http://127.0.0.1:…"}, …]}
# grpc/http are nginx's (point clients there); pid is the server process itself (kill -9 PID kills that replica).
# Logs go to DIR/redis.log, DIR/replica-I.log, DIR/nginx/ (error.log, access.log: session and replica per request).
# down stops everything up started (SIGTERM, SIGKILL after 10 s) and keeps the logs.
#
# The server it runs: --app APP_DIR (a deploy/publish.sh output; or $REGIONCHAT_APP), else this checkout's built server
# (src/RegionChat.Server/bin/{Release,Debug}/net10.0/linux-x64, the newer), else it publishes one to DIR/app first.
# --threads T: each server's RegionChat:Threads (default: the cores divided among the replicas, at least 1).
# SERVER_ARGS go to every server (e.g. --RegionChat:DefaultModel=ID). Missing redis-server or nginx are installed with
# apt-get (Debian packages redis-server and nginx-light) when running as root, as .ci/run does.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

usage() {
  sed -n '4,5p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2
  exit 2
}
die() { echo "fleet.sh: $*" >&2; exit 1; }
# While up runs, a failure stops what it started.
starting=0
on_exit() {
  local rc=$?
  if [ "$starting" = 1 ] && [ "$rc" != 0 ]; then echo "fleet.sh: the start failed; stopping what was started" >&2; stop_all; fi
}
trap on_exit EXIT

cmd="${1:-}"; [ -n "$cmd" ] || usage; shift
replicas=""; dir=""; app="${REGIONCHAT_APP:-}"; threads=""; server_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --replicas) replicas="${2:-}"; shift 2 ;;
    --dir) dir="${2:-}"; shift 2 ;;
    --app) app="${2:-}"; shift 2 ;;
    --threads) threads="${2:-}"; shift 2 ;;
    --) shift; server_args=("$@"); break ;;
    *) echo "fleet.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[ -n "$dir" ] || { echo "fleet.sh: --dir DIR is required" >&2; usage; }

# Whether something accepts connections on 127.0.0.1:$1.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The HTTP status of GET http://127.0.0.1:$1$2 (HTTP/1.0, bash only), or nothing.
http_status() {
  local status=""
  { exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3 && read -r -t 5 _ status _ <&3; } 2>/dev/null || true
  exec 3<&- 2>/dev/null || true
  echo "$status"
}

# A port nothing listens on now (the process that takes it may still lose a race; its start is then retried).
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    listening "$p" || { echo "$p"; return; }
  done
  die "found no free loopback port"
}

# Stops the processes listed in DIR/pids ("kind pid" lines), newest first. A replica drains on SIGTERM (its answers
# in flight finish, up to RegionChat:ShutdownDrainSeconds, 30 s by default), so the wait before SIGKILL is longer.
stop_all() {
  local pids=() kind pid
  [ -f "$dir/pids" ] || return 0
  while read -r kind pid; do pids=("$pid" "${pids[@]}"); done < "$dir/pids"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 450); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -f "$dir/pids"
}

if [ "$cmd" = "down" ]; then
  [ -f "$dir/pids" ] || die "no fleet is running in $dir (no $dir/pids)"
  stop_all
  echo "fleet in $dir stopped (logs kept there)"
  exit 0
fi
[ "$cmd" = "up" ] || usage
[[ "$replicas" =~ ^[1-9][0-9]*$ ]] || die "--replicas must be a positive number, got '$replicas'"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
[ ! -f "$dir/pids" ] || die "a fleet is running in $dir already: fleet.sh down --dir $dir first"
[ -n "$threads" ] || threads=$(( $(nproc) / replicas )); [ "$threads" -ge 1 ] || threads=1

# The Debian packages, as .ci/run installs them.
find_bin() { command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || true; }
missing=""
[ -n "$(find_bin redis-server)" ] || missing="$missing redis-server"
[ -n "$(find_bin nginx)" ] || missing="$missing nginx-light"
if [ -n "$missing" ]; then
  [ "$(id -u)" = 0 ] || die "needs$missing (Debian packages): install them (apt-get install$missing) or run as root"
  echo "fleet.sh: installing$missing" >&2
  # shellcheck disable=SC2086 # the package names split on purpose
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing; } >/dev/null 2>&1 || die "apt-get could not install$missing"
fi
redis_bin="$(find_bin redis-server)"; nginx_bin="$(find_bin nginx)"

# The server to run.
if [ -n "$app" ]; then
  server_dll="$(cd "$app" && pwd)/RegionChat.Server.dll"
  [ -f "$server_dll" ] || die "--app $app holds no RegionChat.Server.dll (make one with deploy/publish.sh $app)"
else
  server_dll="$(ls -t "$repo"/src/RegionChat.Server/bin/{Release,Debug}/net10.0/linux-x64/RegionChat.Server.dll 2>/dev/null | head -1 || true)"
  if [ -z "$server_dll" ]; then
    echo "fleet.sh: no built server in this checkout; publishing one to $dir/app (deploy/publish.sh)" >&2
    "$repo/deploy/publish.sh" "$dir/app" >&2
    server_dll="$dir/app/RegionChat.Server.dll"
  fi
fi
app_dir="$(dirname "$server_dll")"

: > "$dir/pids"
starting=1

# Starts "$@" in the background with its output in $log, detached from this script's terminal and pipes; sets $pid.
start_bg() {
  local kind="$1" log="$2"; shift 2
  nohup "$@" </dev/null >"$log" 2>&1 &
  pid=$!
  echo "$kind $pid" >> "$dir/pids"
}

# redis-server: persistence off (the store holds sessions, which a lost store turns into NOT_FOUND, never wrong answers).
for attempt in 1 2 3 4 5; do
  redis_port=$(free_port)
  start_bg redis "$dir/redis.log" "$redis_bin" --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
    --daemonize no --protected-mode yes
  for _ in $(seq 1 100); do listening "$redis_port" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  listening "$redis_port" && break
  kill -KILL "$pid" 2>/dev/null || true
  [ "$attempt" -lt 5 ] || die "redis-server did not start: $(tail -5 "$dir/redis.log")"
done

# The servers pick their own ports (port 0) and log them.
server_pids=()
for i in $(seq 0 $((replicas - 1))); do
  # From the app's folder: its appsettings.json is read from the current folder.
  (cd "$app_dir" && start_bg "replica-$i" "$dir/replica-$i.log" dotnet "$server_dll" \
    --RegionChat:GrpcUrl=http://127.0.0.1:0 --RegionChat:HttpUrl=http://127.0.0.1:0 --RegionChat:Threads="$threads" \
    --RegionChat:SessionStore:Redis="127.0.0.1:$redis_port" "${server_args[@]}")
done
mapfile -t server_pids < <(grep '^replica-' "$dir/pids" | cut -d' ' -f2)

grpc_urls=(); http_urls=()
for i in $(seq 0 $((replicas - 1))); do
  log="$dir/replica-$i.log"; grpc=""; http=""
  for _ in $(seq 1 1800); do
    kill -0 "${server_pids[$i]}" 2>/dev/null || die "replica $i ended while starting: $(tail -20 "$log")"
    grpc="$(grep -o 'gRPC (h2c[^)]*) listening on http://127\.0\.0\.1:[0-9]*' "$log" | head -1 | grep -o 'http://.*' || true)"
    http="$(grep -o 'HTTP/1\.1 ([^)]*) listening on http://127\.0\.0\.1:[0-9]*' "$log" | head -1 | grep -o 'http://.*' || true)"
    if [ -n "$grpc" ] && [ -n "$http" ] && [ "$(http_status "${http##*:}" /health/ready)" = 200 ]; then break; fi
    sleep 0.2
  done
  [ "$(http_status "${http##*:}" /health/ready)" = 200 ] || die "replica $i did not become ready: $(tail -20 "$log")"
  grpc_urls+=("$grpc"); http_urls+=("$http")
done

# nginx, in DIR/nginx: deploy/nginx's two files and the deployment's regionchat.d/ include files.
ngx="$dir/nginx"
rm -rf "$ngx"; mkdir -p "$ngx/regionchat.d" "$ngx/tmp"
cp "$repo/deploy/nginx/nginx.conf" "$repo/deploy/nginx/regionchat.conf" "$ngx/"
: > "$ngx/regionchat.d/grpc-replicas.conf"; : > "$ngx/regionchat.d/http-replicas.conf"
for i in $(seq 0 $((replicas - 1))); do
  echo "server ${grpc_urls[$i]#http://} max_fails=1 fail_timeout=10s;" >> "$ngx/regionchat.d/grpc-replicas.conf"
  echo "server ${http_urls[$i]#http://} max_fails=1 fail_timeout=10s;" >> "$ngx/regionchat.d/http-replicas.conf"
done
nginx_user=(); [ "$(id -u)" != 0 ] || nginx_user=(-g "user root;")
for attempt in 1 2 3 4 5; do
  grpc_port=$(free_port); http_port=$(free_port)
  echo "listen 127.0.0.1:$grpc_port http2;" > "$ngx/regionchat.d/grpc-listen.conf"
  echo "listen 127.0.0.1:$http_port;" > "$ngx/regionchat.d/http-listen.conf"
  start_bg nginx "$ngx/error.log" "$nginx_bin" -p "$ngx/" -c "$ngx/nginx.conf" -e stderr "${nginx_user[@]}"
  for _ in $(seq 1 100); do listening "$grpc_port" && listening "$http_port" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  listening "$grpc_port" && listening "$http_port" && break
  kill -KILL "$pid" 2>/dev/null || true
  sed -i '/^nginx /d' "$dir/pids"
  [ "$attempt" -lt 5 ] || die "nginx did not start: $(tail -5 "$ngx/error.log")"
done
[ "$(http_status "$http_port" /health/ready)" = 200 ] || die "nginx does not reach the replicas: $(tail -5 "$ngx/error.log")"
starting=0

{
  printf '{"grpc": "http://127.0.0.1:%s", "http": "http://127.0.0.1:%s", "redis": "redis://127.0.0.1:%s", "replicas": [' \
    "$grpc_port" "$http_port" "$redis_port"
  for i in $(seq 0 $((replicas - 1))); do
    [ "$i" = 0 ] || printf ', '
    printf '{"pid": %s, "grpc": "%s", "http": "%s"}' "${server_pids[$i]}" "${grpc_urls[$i]}" "${http_urls[$i]}"
  done
  printf ']}\n'
} > "$dir/endpoints.json.tmp"
mv "$dir/endpoints.json.tmp" "$dir/endpoints.json"
echo "fleet of $replicas up: gRPC http://127.0.0.1:$grpc_port, HTTP http://127.0.0.1:$http_port, redis 127.0.0.1:$redis_port" \
  "($dir/endpoints.json; stop it with: deploy/local/fleet.sh down --dir $dir)"
