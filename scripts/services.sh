#!/usr/bin/env bash
# Local services for kinflow's tests and demo: install (cached), start (if not running), health-check, stop.
#
#   scripts/services.sh install|start|stop|status|env [service ...]
#
# Services and their default addresses (all on 127.0.0.1; each port can be overridden by its env var):
#   elasticsearch  9200  KINFLOW_ES_PORT          Elasticsearch 8 integ-test-zip from Maven Central, security off
#   opensearch     9201  KINFLOW_OPENSEARCH_PORT  OpenSearch 2 integ-test-zip from Maven Central, security off
#   moto           5000  KINFLOW_MOTO_PORT        moto's server (CloudWatch Logs, Kinesis, DynamoDB, S3, SQS, EC2)
#   kinesalite     4567  KINFLOW_KINESALITE_PORT  Kinesis emulator (npm)
#   dynalite       4568  KINFLOW_DYNALITE_PORT    DynamoDB emulator (npm)
#   browser        -     -                        headless Chromium for the browser tests: Debian's chromium package,
#                                                 installed with apt-get when not on PATH; nothing runs until a test
#                                                 starts it (internal/testing/browser)
#
# Downloads, the Python virtualenv, node_modules, data and logs live under $KINFLOW_CACHE (default: .cache in the
# repository, git-ignored), so a second run reuses them. Logs: $KINFLOW_CACHE/logs/<service>.log.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${KINFLOW_CACHE:-$ROOT/.cache}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
LOGS=$CACHE/logs
RUN=$CACHE/run
mkdir -p "$LOGS" "$RUN" "$CACHE/dist"

ES_VERSION=${KINFLOW_ES_VERSION:-8.19.7}
OPENSEARCH_VERSION=${KINFLOW_OPENSEARCH_VERSION:-2.19.4}
ES_PORT=${KINFLOW_ES_PORT:-9200}
OPENSEARCH_PORT=${KINFLOW_OPENSEARCH_PORT:-9201}
MOTO_PORT=${KINFLOW_MOTO_PORT:-5000}
KINESALITE_PORT=${KINFLOW_KINESALITE_PORT:-4567}
DYNALITE_PORT=${KINFLOW_DYNALITE_PORT:-4568}
HEAP=${KINFLOW_SEARCH_HEAP:-512m}
ALL=(elasticsearch opensearch moto kinesalite dynalite browser)

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

port_of() {
  case $1 in
    elasticsearch) echo "$ES_PORT" ;;
    opensearch) echo "$OPENSEARCH_PORT" ;;
    moto) echo "$MOTO_PORT" ;;
    kinesalite) echo "$KINESALITE_PORT" ;;
    dynalite) echo "$DYNALITE_PORT" ;;
    browser) echo "-" ;; # a program, not a server: each browser test starts its own
    *) die "unknown service '$1' (known: ${ALL[*]})" ;;
  esac
}

# chromium_path: the Chromium on PATH, under either of the names Debian and other distributions give it.
chromium_path() { command -v chromium || command -v chromium-browser; }

# healthy SERVICE: true when the service answers its own health request; the browser is healthy once installed.
healthy() {
  local port
  port=$(port_of "$1")
  case $1 in
    browser) chromium_path >/dev/null ;;
    elasticsearch | opensearch)
      curl -fsS --max-time 2 "http://127.0.0.1:$port/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null |
        grep -q '"status":"\(green\|yellow\)"' ;;
    moto)
      curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/moto-api/" 2>/dev/null ;;
    kinesalite)
      # Any AWS-shaped JSON answer (an auth error without credentials) means it is serving.
      curl -sS --max-time 2 -X POST -H 'X-Amz-Target: Kinesis_20131202.ListStreams' \
        -H 'Content-Type: application/x-amz-json-1.1' -d '{}' "http://127.0.0.1:$port/" 2>/dev/null | grep -q '__type' ;;
    dynalite)
      curl -sS --max-time 2 -X POST -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
        -H 'Content-Type: application/x-amz-json-1.0' -d '{}' "http://127.0.0.1:$port/" 2>/dev/null | grep -q '__type' ;;
  esac
}

SERVICE_USER=${KINFLOW_SERVICE_USER:-kinflow-svc}
ensure_service_user() {
  id "$SERVICE_USER" >/dev/null 2>&1 && return
  log "creating system user $SERVICE_USER to run the search engines (they refuse root)"
  useradd --system --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
}

java17_home() {
  if [[ -n ${KINFLOW_JAVA_HOME:-} ]]; then echo "$KINFLOW_JAVA_HOME"; return; fi
  local d
  for d in /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-arm64 /usr/lib/jvm/java-17-openjdk; do
    [[ -x $d/bin/java ]] && { echo "$d"; return; }
  done
  [[ -n ${JAVA_HOME:-} ]] && { echo "$JAVA_HOME"; return; }
  dirname "$(dirname "$(readlink -f "$(command -v java)")")"
}

# fetch_zip GROUP ARTIFACT VERSION: copies the zip from Maven Central into the cache once, unpacks it once.
fetch_zip() {
  local group=$1 artifact=$2 version=$3
  local zip=$CACHE/dist/$artifact-$version.zip dir=$CACHE/dist/$artifact-$version
  if [[ ! -f $zip ]]; then
    command -v mvn >/dev/null || die "mvn not found (Maven is needed to fetch $artifact from Maven Central)"
    log "fetching $group:$artifact:$version:zip from Maven Central"
    mvn -q -B dependency:copy -Dartifact="$group:$artifact:$version:zip" -DoutputDirectory="$CACHE/dist" \
      >"$LOGS/mvn-$artifact.log" 2>&1 || die "mvn dependency:copy failed, see $LOGS/mvn-$artifact.log"
  fi
  if [[ ! -d $dir ]]; then
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    unzip -q "$zip" -d "$dir.tmp"
    mv "$dir.tmp/$artifact-$version" "$dir" && rm -rf "$dir.tmp"
  fi
}

# install_chromium: Debian's chromium package, when no Chromium is on PATH. A browser build downloaded by a test
# tool cannot be fetched here (only the package registries are reachable), and Debian's package is the one the
# machines and CI can install. --no-install-recommends keeps it to the browser and its libraries; DejaVu is named
# because without a font (a bare Debian has none) every screenshot's text would be empty boxes.
install_chromium() {
  chromium_path >/dev/null && return
  local -a apt=(apt-get)
  if ((EUID != 0)); then
    command -v sudo >/dev/null ||
      die "chromium is not installed and installing it needs root: run 'apt-get update && apt-get install -y --no-install-recommends chromium fonts-dejavu-core' as root"
    apt=(sudo apt-get)
  fi
  log "installing Debian's chromium with apt-get (about 20 s on a fresh machine; log: $LOGS/apt-chromium.log)"
  local start=$SECONDS
  {
    "${apt[@]}" update && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends chromium fonts-dejavu-core
  } >"$LOGS/apt-chromium.log" 2>&1 || { tail -n 20 "$LOGS/apt-chromium.log" >&2; die "apt-get install chromium failed, see $LOGS/apt-chromium.log"; }
  chromium_path >/dev/null || die "apt-get installed chromium but it is not on PATH"
  log "chromium installed in $((SECONDS - start)) s: $("$(chromium_path)" --version 2>/dev/null || echo "$(chromium_path)")"
}

install_one() {
  case $1 in
    browser) install_chromium ;;
    elasticsearch) fetch_zip org.elasticsearch.distribution.integ-test-zip elasticsearch "$ES_VERSION" ;;
    opensearch) fetch_zip org.opensearch.distribution.integ-test-zip opensearch "$OPENSEARCH_VERSION" ;;
    moto)
      local stamp=$CACHE/venv/.requirements
      if ! cmp -s "$ROOT/scripts/requirements.txt" "$stamp" 2>/dev/null; then
        log "installing Python tools into $CACHE/venv"
        [[ -x $CACHE/venv/bin/python ]] || python3 -m venv "$CACHE/venv"
        "$CACHE/venv/bin/pip" install -q -r "$ROOT/scripts/requirements.txt" >"$LOGS/pip.log" 2>&1 ||
          die "pip install failed, see $LOGS/pip.log"
        cp "$ROOT/scripts/requirements.txt" "$stamp"
      fi ;;
    kinesalite | dynalite)
      local dir=$CACHE/npm
      if ! cmp -s "$ROOT/scripts/npm/package-lock.json" "$dir/package-lock.json" 2>/dev/null ||
        [[ ! -d $dir/node_modules ]]; then
        log "installing kinesalite and dynalite into $dir"
        mkdir -p "$dir"
        cp "$ROOT/scripts/npm/package.json" "$ROOT/scripts/npm/package-lock.json" "$dir/"
        (cd "$dir" && npm ci --no-audit --no-fund >"$LOGS/npm.log" 2>&1) || die "npm ci failed, see $LOGS/npm.log"
      fi
      cp "$ROOT/scripts/npm/listen.js" "$dir/listen.js" ;;
  esac
}

# launch SERVICE: starts the process in the background, its pid in $RUN/SERVICE.pid.
launch() {
  local svc=$1 port
  port=$(port_of "$svc")
  local out=$LOGS/$svc.log
  case $svc in
    elasticsearch | opensearch)
      local dir data
      if [[ $svc == elasticsearch ]]; then dir=$CACHE/dist/elasticsearch-$ES_VERSION; else dir=$CACHE/dist/opensearch-$OPENSEARCH_VERSION; fi
      data=$RUN/$svc/data
      mkdir -p "$data" "$LOGS/$svc"
      local -a opts=(
        -Ecluster.name="kinflow-$svc" -Enode.name="kinflow-$svc" -Ediscovery.type=single-node
        -Enetwork.host=127.0.0.1 -Ehttp.port="$port" -Etransport.port="$((port + 100))"
        -Epath.data="$data" -Epath.logs="$LOGS/$svc"
        -Ecluster.routing.allocation.disk.threshold_enabled=false -Eaction.destructive_requires_name=false
      )
      local java_home
      java_home=$(java17_home)
      local -a as_user=()
      if ((EUID == 0)); then
        # Both refuse to run as root: run them as an unprivileged system user that owns their folders.
        ensure_service_user
        chown -R "$SERVICE_USER:" "$dir" "$RUN/$svc" "$LOGS/$svc"
        as_user=(setpriv --reuid="$SERVICE_USER" --regid="$SERVICE_USER" --init-groups)
      fi
      rm -f "$RUN/$svc/server.pid"
      opts+=(-p "$RUN/$svc/server.pid")
      if [[ $svc == elasticsearch ]]; then
        opts+=(-Expack.security.enabled=false)
        ES_JAVA_HOME=$java_home ES_JAVA_OPTS="-Xms$HEAP -Xmx$HEAP" \
          nohup "${as_user[@]}" "$dir/bin/elasticsearch" "${opts[@]}" >"$out" 2>&1 &
      else
        OPENSEARCH_JAVA_HOME=$java_home OPENSEARCH_JAVA_OPTS="-Xms$HEAP -Xmx$HEAP" \
          nohup "${as_user[@]}" "$dir/bin/opensearch" "${opts[@]}" >"$out" 2>&1 &
      fi ;;
    moto)
      nohup "$CACHE/venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$out" 2>&1 & ;;
    kinesalite | dynalite)
      nohup node "$CACHE/npm/listen.js" "$svc" "$port" >"$out" 2>&1 & ;;
  esac
  echo $! >"$RUN/$svc.pid"
}

start_one() {
  local svc=$1 port
  port=$(port_of "$svc")
  if [[ $svc == browser ]]; then
    # Nothing to launch: the tests start a headless Chromium each. Quiet when it is already there.
    install_chromium
    return
  fi
  if healthy "$svc"; then
    if [[ -f $RUN/$svc.pid || -f $RUN/$svc/server.pid ]]; then
      log "$svc already running on 127.0.0.1:$port"
    else
      # Another checkout's (or a hand-started) server: this run lives only as long as its owner keeps it up.
      log "warning: $svc on 127.0.0.1:$port was not started from $ROOT; it is used as it is, and whoever started it can stop it mid-run"
    fi
    return
  fi
  install_one "$svc"
  log "starting $svc on 127.0.0.1:$port (log: $LOGS/$svc.log)"
  launch "$svc"
}

# wait_one SERVICE: waits until healthy, or fails with the tail of its log.
wait_one() {
  local svc=$1 deadline=$((SECONDS + ${KINFLOW_START_TIMEOUT:-180}))
  [[ $svc == browser ]] && return
  local pidfile=$RUN/$svc.pid
  until healthy "$svc"; do
    if [[ -f $pidfile ]] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      tail -n 30 "$LOGS/$svc.log" >&2 || true
      die "$svc exited during start-up"
    fi
    ((SECONDS < deadline)) || { tail -n 30 "$LOGS/$svc.log" >&2 || true; die "$svc not healthy in time"; }
    sleep 1
  done
  log "$svc healthy on 127.0.0.1:$(port_of "$svc")"
}

# stop_pid PIDFILE NAME: TERM, wait up to 30 s, then KILL.
stop_pid() {
  local pidfile=$1 name=$2 pid
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then log "$name did not stop on TERM, killing"; kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$pidfile"
}

stop_one() {
  local svc=$1
  [[ $svc == browser ]] && return # never left running
  [[ -f $RUN/$svc.pid || -f $RUN/$svc/server.pid ]] || { log "$svc not started by this script"; return; }
  stop_pid "$RUN/$svc/server.pid" "$svc"
  stop_pid "$RUN/$svc.pid" "$svc"
  log "$svc stopped"
}

print_env() {
  cat <<EOF
export KINFLOW_ES_URL=http://127.0.0.1:$ES_PORT
export KINFLOW_OPENSEARCH_URL=http://127.0.0.1:$OPENSEARCH_PORT
export KINFLOW_MOTO_URL=http://127.0.0.1:$MOTO_PORT
export KINFLOW_KINESALITE_URL=http://127.0.0.1:$KINESALITE_PORT
export KINFLOW_DYNALITE_URL=http://127.0.0.1:$DYNALITE_PORT
EOF
}

cmd=${1:-}
shift || true
services=("$@")
((${#services[@]})) || services=("${ALL[@]}")
for s in "${services[@]}"; do port_of "$s" >/dev/null; done

case $cmd in
  install) for s in "${services[@]}"; do install_one "$s"; done ;;
  start)
    # Install and launch everything first, then wait: the JVMs start in parallel.
    for s in "${services[@]}"; do start_one "$s"; done
    for s in "${services[@]}"; do wait_one "$s"; done ;;
  stop) for s in "${services[@]}"; do stop_one "$s"; done ;;
  status)
    rc=0
    for s in "${services[@]}"; do
      if [[ $s == browser ]]; then
        if healthy "$s"; then echo "$s installed $(chromium_path)"; else echo "$s not installed"; rc=1; fi
      elif healthy "$s"; then echo "$s up 127.0.0.1:$(port_of "$s")"; else echo "$s down"; rc=1; fi
    done
    exit $rc ;;
  env) print_env ;;
  *) die "usage: $0 install|start|stop|status|env [${ALL[*]}]" ;;
esac
