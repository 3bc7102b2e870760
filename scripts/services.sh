#!/usr/bin/env bash
# Real test services for Barge, on loopback only, without Docker:
#   s3    moto server            (PyPI moto[server])         127.0.0.1:5055
#   gcs   fake-gcs-server        (go install, Go module)      127.0.0.1:4443
#   azure Azurite blob           (npm azurite)                127.0.0.1:10000
#   kafka Apache Kafka, KRaft    (Maven jars, Java 17)        127.0.0.1:9092 (+9093 controller,
#                                                               +9094 SASL_SSL: scripts/kafka/sasl-ssl.sh)
#
# Usage:
#   scripts/services.sh install [all|s3|gcs|azure|kafka ...]   install missing pieces into the cache
#   scripts/services.sh start   [all|s3|gcs|azure|kafka ...]   install if needed, start, wait until ready
#   scripts/services.sh status  [all|s3|gcs|azure|kafka ...]   show pid / health of each service
#   scripts/services.sh stop    [all|s3|gcs|azure|kafka ...]   SIGTERM, wait up to 20 s, then SIGKILL
#
# `start all` and `install all` also install Debian's `chromium` with apt-get when it is
# missing (the dashboard's browser test drives it; not a service, nothing to start or stop).
#
# `start` is idempotent: a service whose pid file names a live process that
# passes its readiness probe is left alone. After a successful start,
# $CACHE/services.env holds BARGE_TEST_* variables for the running services:
#   set -a; . .cache/services/services.env; set +a
#
# Knobs (environment):
#   BARGE_SERVICES_CACHE   cache dir (default <repo>/.cache/services)
#   BARGE_S3_PORT=5055  BARGE_GCS_PORT=4443  BARGE_AZURE_PORT=10000
#   BARGE_KAFKA_PORT=9092  BARGE_KAFKA_CONTROLLER_PORT=9093  BARGE_KAFKA_SASL_PORT=9094
#   KAFKA_VERSION=4.1.2 (3.9.x also supported)  FAKE_GCS_VERSION=v1.55.1
#   AZURITE_VERSION=3.37.0  MOTO_VERSION=5.2.1 (only used when moto must be installed)
#   BARGE_AZURE_MEMORY_MB=2048 (Azurite --extentMemoryLimit)
#   BARGE_KAFKA_HEAP="-Xms256m -Xmx768m"
#   BARGE_KAFKA_PROBE=auto|kafkajs|java (auto: kafkajs if it resolves from the repo root)
#   BARGE_SERVICES_TIMEOUT=120 (seconds, per service readiness)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${BARGE_SERVICES_CACHE:-$ROOT/.cache/services}"
LOGS="$CACHE/logs"
RUN="$CACHE/run"
ENV_FILE="$CACHE/services.env"

S3_PORT="${BARGE_S3_PORT:-5055}"
GCS_PORT="${BARGE_GCS_PORT:-4443}"
AZURE_PORT="${BARGE_AZURE_PORT:-10000}"
KAFKA_PORT="${BARGE_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${BARGE_KAFKA_CONTROLLER_PORT:-9093}"

KAFKA_VERSION="${KAFKA_VERSION:-4.1.2}"
FAKE_GCS_VERSION="${FAKE_GCS_VERSION:-v1.55.1}"
AZURITE_VERSION="${AZURITE_VERSION:-3.37.0}"
MOTO_VERSION="${MOTO_VERSION:-5.2.1}"
AZURE_MEMORY_MB="${BARGE_AZURE_MEMORY_MB:-2048}"
KAFKA_HEAP="${BARGE_KAFKA_HEAP:--Xms256m -Xmx768m}"
KAFKA_PROBE="${BARGE_KAFKA_PROBE:-auto}"
TIMEOUT="${BARGE_SERVICES_TIMEOUT:-120}"
MAVEN_DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

GCS_DIR="$CACHE/fake-gcs-server-$FAKE_GCS_VERSION"
AZURITE_DIR="$CACHE/azurite-$AZURITE_VERSION"
KAFKA_DIR="$CACHE/kafka-$KAFKA_VERSION"
MOTO_VENV="$CACHE/moto-venv"

AZURE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
ALL_SERVICES=(s3 gcs azure kafka)

# shellcheck source=kafka/sasl-ssl.sh
. "$ROOT/scripts/kafka/sasl-ssl.sh"

# The GCS Node client lets STORAGE_EMULATOR_HOST override apiEndpoint (and
# then breaks); never pass it on to anything started from here.
unset STORAGE_EMULATOR_HOST

mkdir -p "$LOGS" "$RUN"

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- helpers

# HTTP status code of a GET/POST, "000" if nothing answers.
http_code() { # url [method]
  local url=$1 method=${2:-GET}
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null -m 3 -X "$method" -w '%{http_code}' "$url" 2>/dev/null || true
  else
    python3 - "$url" "$method" <<'PY' 2>/dev/null || printf '000'
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(urllib.request.Request(sys.argv[1], method=sys.argv[2]), timeout=3)
    print(r.status, end="")
except urllib.error.HTTPError as e:
    print(e.code, end="")
except Exception:
    print("000", end="")
PY
  fi
}

# Runs a function with `set -e` in force. Called directly inside `if`/`||`,
# bash would ignore errexit in the whole function; as an async job it does not.
run_errexit() { "$@" & wait $!; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

svc_port() {
  case $1 in s3) echo "$S3_PORT" ;; gcs) echo "$GCS_PORT" ;; azure) echo "$AZURE_PORT" ;; kafka) echo "$KAFKA_PORT" ;; esac
}
# Substring that the service's /proc/PID/cmdline must contain; guards
# against pid reuse so stop never signals a stranger.
svc_pattern() {
  case $1 in s3) echo "moto.server" ;; gcs) echo "fake-gcs-server" ;; azure) echo "azurite" ;; kafka) echo "kafka.Kafka" ;; esac
}

pidfile() { echo "$RUN/$1.pid"; }
logfile() { echo "$LOGS/$1.log"; }

# Prints the pid if the pid file names a live process that is our service.
svc_pid() {
  local f pid
  f=$(pidfile "$1")
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(svc_pattern "$1")" || return 1
  echo "$pid"
}

tail_log() { # name [reason]
  local f
  f=$(logfile "$1")
  log "$1: ${2:-failed}; last 60 lines of $f:"
  if [[ -f $f ]]; then tail -n 60 "$f" >&2; else echo "(no log)" >&2; fi
}

# ---------------------------------------------------------------- install

PYTHON=""
# Cheap check (no import): moto and its server-mode extras are present.
has_moto_server() {
  "$1" -c 'import importlib.util as u, sys
sys.exit(0 if all(u.find_spec(m) for m in ("moto", "flask", "flask_cors", "werkzeug")) else 1)' >/dev/null 2>&1
}
find_python() {
  if has_moto_server python3; then
    PYTHON=$(python3 -c 'import sys; print(sys.executable)')
  elif [[ -x $MOTO_VENV/bin/python ]] && has_moto_server "$MOTO_VENV/bin/python"; then
    PYTHON="$MOTO_VENV/bin/python"
  else
    return 1
  fi
}

install_s3() {
  find_python && return 0
  log "s3: moto.server not importable; installing moto[server]==$MOTO_VERSION into $MOTO_VENV"
  rm -rf "$MOTO_VENV"
  if python3 -m venv "$MOTO_VENV"; then
    "$MOTO_VENV/bin/python" -m pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  else
    log "s3: python3 -m venv failed; installing into the current python3 instead"
    rm -rf "$MOTO_VENV"
    python3 -m pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  fi
  if ! find_python || ! "$PYTHON" -c 'import moto.server'; then
    die "s3: moto.server still not importable after install"
  fi
}

install_gcs() {
  [[ -x $GCS_DIR/bin/fake-gcs-server ]] && return 0
  command -v go >/dev/null || die "gcs: go not found"
  log "gcs: go install github.com/fsouza/fake-gcs-server@$FAKE_GCS_VERSION (cold: ~2 min on 2 cores)"
  local t0; t0=$(now)
  rm -rf "$GCS_DIR.tmp"
  mkdir -p "$GCS_DIR.tmp/bin"
  GOBIN="$GCS_DIR.tmp/bin" GOFLAGS="${GOFLAGS:-} -trimpath" \
    go install -ldflags='-s -w' "github.com/fsouza/fake-gcs-server@$FAKE_GCS_VERSION"
  rm -rf "$GCS_DIR"
  mv "$GCS_DIR.tmp" "$GCS_DIR"
  log "gcs: installed in $(since "$t0") s"
}

install_azure() {
  local pkg="$AZURITE_DIR/node_modules/azurite/package.json"
  if [[ -f $pkg ]] && [[ $(node -p "require('$pkg').version" 2>/dev/null) == "$AZURITE_VERSION" ]]; then
    return 0
  fi
  log "azure: npm install azurite@$AZURITE_VERSION into $AZURITE_DIR"
  local t0; t0=$(now)
  rm -rf "$AZURITE_DIR.tmp"
  mkdir -p "$AZURITE_DIR.tmp"
  # Own prefix, so the repo's package.json / lockfile are never touched.
  # azurite >=3.36 declares node >=21/22 but runs fine on 20 (EBADENGINE warnings only).
  (cd "$AZURITE_DIR.tmp" && npm install --prefix "$AZURITE_DIR.tmp" "azurite@$AZURITE_VERSION" \
      --no-audit --no-fund --no-save --engine-strict=false --loglevel=error >/dev/null)
  rm -rf "$AZURITE_DIR"
  mv "$AZURITE_DIR.tmp" "$AZURITE_DIR"
  log "azure: installed in $(since "$t0") s"
}

kafka_major() { echo "${KAFKA_VERSION%%.*}"; }

# Readiness probe that needs no node_modules: Kafka's own AdminClient.
write_java_probe() {
  cat <<'JAVA'
import java.util.*;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.*;

/** Readiness probe: create, list and delete a topic; warm the group coordinator. */
public class KafkaProbe {
  public static void main(String[] a) throws Exception {
    String brokers = a.length > 0 ? a[0] : "127.0.0.1:9092";
    long deadline = System.currentTimeMillis() + (a.length > 1 ? Long.parseLong(a[1]) : 60000L);
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
    // SASL_SSL listener (scripts/kafka/sasl-ssl.sh): SCRAM-SHA-512, trusting the test CA.
    String saslCa = System.getenv("KAFKA_PROBE_SASL_CA");
    if (saslCa != null && !saslCa.isEmpty()) {
      p.put("security.protocol", "SASL_SSL");
      p.put("ssl.truststore.type", "PEM");
      p.put("ssl.truststore.location", saslCa);
      p.put("sasl.mechanism", "SCRAM-SHA-512");
      p.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
          + System.getenv("KAFKA_PROBE_SASL_USER") + "\" password=\"" + System.getenv("KAFKA_PROBE_SASL_PASSWORD") + "\";");
    }
    Exception last = null;
    while (System.currentTimeMillis() < deadline) {
      String topic = "barge-probe-" + System.currentTimeMillis();
      try (Admin admin = Admin.create(p)) {
        admin.describeCluster().nodes().get(10, TimeUnit.SECONDS);
        admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(10, TimeUnit.SECONDS);
        Set<String> names = admin.listTopics().names().get(10, TimeUnit.SECONDS);
        if (!names.contains(topic)) throw new IllegalStateException("created topic not listed: " + names);
        admin.deleteTopics(List.of(topic)).all().get(10, TimeUnit.SECONDS);
        // Creates __consumer_offsets now rather than in the first test.
        admin.listConsumerGroupOffsets("barge-probe").partitionsToOffsetAndMetadata().get(20, TimeUnit.SECONDS);
        System.out.println("kafka probe (java AdminClient): created, listed and deleted " + topic);
        return;
      } catch (Exception e) {
        last = e;
        Thread.sleep(500);
      }
    }
    System.err.println("kafka probe FAILED: " + last);
    System.exit(1);
  }
}
JAVA
}

write_log4j1_properties() {
  cat <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
EOF
}

install_kafka() {
  local pom="$ROOT/scripts/kafka/pom.xml" stamp="$KAFKA_DIR/libs/.complete" want
  want="$KAFKA_VERSION $(cksum <"$pom")"
  if ! [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
    command -v mvn >/dev/null || die "kafka: mvn not found"
    local profile=()
    [[ $(kafka_major) -lt 4 ]] && profile=(-Pkafka3)
    log "kafka: fetching Kafka $KAFKA_VERSION jars with Maven into $KAFKA_DIR/libs"
    local t0; t0=$(now)
    rm -rf "$KAFKA_DIR/libs.tmp"
    mvn -B -q -f "$pom" "${profile[@]}" -Dkafka.version="$KAFKA_VERSION" \
      "$MAVEN_DEP_PLUGIN:copy-dependencies" \
      -DincludeScope=runtime -DoutputDirectory="$KAFKA_DIR/libs.tmp"
    ls "$KAFKA_DIR/libs.tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "kafka: no kafka_2.13 jar fetched"
    echo "$want" >"$KAFKA_DIR/libs.tmp/.complete"
    rm -rf "$KAFKA_DIR/libs"
    mv "$KAFKA_DIR/libs.tmp" "$KAFKA_DIR/libs"
    log "kafka: jars fetched in $(since "$t0") s"
  fi
  if [[ $(kafka_major) -lt 4 ]]; then
    write_log4j1_properties >"$KAFKA_DIR/log4j.properties"
  fi
  # Compile the Java probe once per Kafka version (and whenever its source changes).
  local src="$KAFKA_DIR/probe/KafkaProbe.java"
  mkdir -p "$KAFKA_DIR/probe"
  if ! write_java_probe | cmp -s - "$src" || [[ ! -f $KAFKA_DIR/probe/KafkaProbe.class ]]; then
    write_java_probe >"$src"
    javac -nowarn -cp "$KAFKA_DIR/libs/*" -d "$KAFKA_DIR/probe" "$src" || { rm -f "$src"; return 1; }
  fi
}

install_one() {
  case $1 in
    s3) install_s3 ;; gcs) install_gcs ;; azure) install_azure ;; kafka) install_kafka ;;
    *) die "unknown service: $1" ;;
  esac
}

# ---------------------------------------------------------------- probes

probe() { # name -> 0 if ready
  case $1 in
    s3) [[ $(http_code "http://127.0.0.1:$S3_PORT/moto-api/") == 200 ]] ;;
    gcs) [[ $(http_code "http://127.0.0.1:$GCS_PORT/_internal/healthcheck") == 200 ]] ;;
    azure) [[ $(http_code "http://127.0.0.1:$AZURE_PORT/devstoreaccount1?comp=list") == 403 ]] ;;
    kafka) kafka_probe 15 >/dev/null 2>&1 && kafka_sasl_probe 15 >/dev/null 2>&1 ;;
  esac
}

kafka_log_opt() {
  if [[ $(kafka_major) -lt 4 ]]; then
    echo "-Dlog4j.configuration=file:$KAFKA_DIR/log4j.properties"
  else
    echo "-Dlog4j2.configurationFile=$ROOT/scripts/kafka/log4j2.properties"
  fi
}

kafka_use_kafkajs() {
  case $KAFKA_PROBE in
    kafkajs) return 0 ;;
    java) return 1 ;;
    *) (cd "$ROOT" && node -e "require.resolve('kafkajs')") >/dev/null 2>&1 ;;
  esac
}

kafka_probe() { kafka_probe_brokers "127.0.0.1:$KAFKA_PORT" "$1"; }

kafka_probe_brokers() { # brokers seconds
  local brokers=$1 secs=$2
  if kafka_use_kafkajs; then
    (cd "$ROOT" && node scripts/wait-kafka.mjs "$brokers" $((secs * 1000)))
  else
    java -Xmx128m -Dlog4j2.level=OFF \
      -cp "$KAFKA_DIR/probe:$KAFKA_DIR/libs/*" KafkaProbe "$brokers" $((secs * 1000)) \
      2> >(grep -v -e '^SLF4J' -e 'StatusLogger' -e '^log4j:WARN' >&2)
  fi
}

# ---------------------------------------------------------------- start

launch() { # name cmd... ; starts detached, writes the pid file
  local name=$1; shift
  local lf; lf=$(logfile "$name")
  [[ -f $lf ]] && mv -f "$lf" "$lf.prev"
  # 9>&-: the service must not inherit the lock fd (it would hold the lock forever).
  nohup "$@" >"$lf" 2>&1 </dev/null 9>&- &
  echo $! >"$(pidfile "$name")"
}

launch_s3() {
  find_python || install_s3
  launch s3 "$PYTHON" -m moto.server -H 127.0.0.1 -p "$S3_PORT"
}

launch_gcs() {
  launch gcs "$GCS_DIR/bin/fake-gcs-server" -host 127.0.0.1 -port "$GCS_PORT" -scheme http \
    -backend memory -external-url "http://127.0.0.1:$GCS_PORT" -public-host "127.0.0.1:$GCS_PORT" \
    -log-level warn
}

launch_azure() {
  launch azure node "$AZURITE_DIR/node_modules/azurite/dist/src/blob/main.js" \
    --blobHost 127.0.0.1 --blobPort "$AZURE_PORT" --inMemoryPersistence \
    --extentMemoryLimit "$AZURE_MEMORY_MB" --disableTelemetry --skipApiVersionCheck --loose --silent
}

kafka_cleanup_data() {
  local f="$RUN/kafka.datadir" d
  if [[ -s $f ]]; then
    d=$(<"$f")
    [[ $d == */barge-kafka.* && -d $d ]] && rm -rf -- "$d"
    rm -f "$f"
  fi
}

launch_kafka() {
  kafka_cleanup_data
  kafka_sasl_prepare
  local data logopt scram
  data=$(mktemp -d "${TMPDIR:-/tmp}/barge-kafka.XXXXXX")
  echo "$data" >"$RUN/kafka.datadir"
  sed -e "s#@KAFKA_DATA@#$data/logs#" -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" \
      -e "s#@KAFKA_CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
      "$ROOT/scripts/kafka/server.properties" >"$data/server.properties"
  chmod 600 "$data/server.properties"
  kafka_sasl_add_listener "$data/server.properties"
  mapfile -t scram < <(kafka_sasl_format_args)
  logopt=$(kafka_log_opt)
  # Fixed cluster id (a random one may start with '-', which argparse4j reads as a flag).
  # COLUMNS unset: KAFKA-15413.
  if ! env -u COLUMNS java -Xmx256m "$logopt" -cp "$KAFKA_DIR/libs/*" kafka.tools.StorageTool format \
      --config "$data/server.properties" --cluster-id=MkU3OEVBNTcwNTJENDM2Qk --ignore-formatted "${scram[@]}" \
      >"$data/format.log" 2>&1; then
    cat "$data/format.log" >"$(logfile kafka)"
    return 1
  fi
  # shellcheck disable=SC2086
  launch kafka java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true "$logopt" -cp "$KAFKA_DIR/libs/*" kafka.Kafka "$data/server.properties"
}

# Waits for readiness of a just-launched service. 0 = ready.
wait_ready() { # name
  local name=$1 pid deadline
  pid=$(<"$(pidfile "$name")")
  deadline=$(( $(date +%s) + TIMEOUT ))
  if [[ $name == kafka ]]; then
    local lf; lf=$(logfile kafka)
    until grep -q 'Kafka Server started' "$lf" 2>/dev/null; do
      kill -0 "$pid" 2>/dev/null || { tail_log kafka "process $pid exited during startup"; return 1; }
      grep -q 'Exiting Kafka due to fatal exception' "$lf" 2>/dev/null && { tail_log kafka "fatal exception"; return 1; }
      (( $(date +%s) < deadline )) || { tail_log kafka "no 'Kafka Server started' within ${TIMEOUT}s"; return 1; }
      sleep 0.2
    done
    local left=$(( deadline - $(date +%s) )); (( left < 20 )) && left=20
    local out
    if ! out=$(kafka_probe "$left" 2>&1); then
      echo "$out" >&2
      tail_log kafka "client round trip failed"
      return 1
    fi
    log "kafka: $out"
    if ! out=$(kafka_sasl_probe "$left" 2>&1); then
      echo "$out" >&2
      tail_log kafka "client round trip over SASL_SSL (127.0.0.1:$KAFKA_SASL_PORT) failed"
      return 1
    fi
    log "kafka (SASL_SSL 127.0.0.1:$KAFKA_SASL_PORT): $out"
    return 0
  fi
  until probe "$name"; do
    kill -0 "$pid" 2>/dev/null || { tail_log "$name" "process $pid exited during startup"; return 1; }
    (( $(date +%s) < deadline )) || { tail_log "$name" "not ready within ${TIMEOUT}s"; return 1; }
    sleep 0.2
  done
}

start_one() { # name
  local name=$1 t0 pid port
  t0=$(now)
  port=$(svc_port "$name")
  if pid=$(svc_pid "$name"); then
    if probe "$name"; then
      log "$name: already running (pid $pid, port $port)"
      return 0
    fi
    log "$name: pid $pid alive but not healthy; restarting it"
    stop_one "$name"
  fi
  rm -f "$(pidfile "$name")"
  if port_open "$port"; then
    log "$name: port 127.0.0.1:$port is already in use by a process this script did not start;"
    log "$name: stop it or choose another port (BARGE_${name^^}_PORT)"
    return 1
  fi
  if [[ $name == kafka ]] && port_open "$KAFKA_CONTROLLER_PORT"; then
    log "kafka: controller port 127.0.0.1:$KAFKA_CONTROLLER_PORT is in use (BARGE_KAFKA_CONTROLLER_PORT)"
    return 1
  fi
  if [[ $name == kafka ]] && port_open "$KAFKA_SASL_PORT"; then
    log "kafka: SASL_SSL port 127.0.0.1:$KAFKA_SASL_PORT is in use (BARGE_KAFKA_SASL_PORT)"
    return 1
  fi
  local ilog="$LOGS/install-$name.log"
  if ! run_errexit install_one "$name" >"$ilog" 2>&1; then
    log "$name: install failed; last 60 lines of $ilog:"; tail -n 60 "$ilog" >&2; return 1
  fi
  grep -o '\[services\].*' "$ilog" >&2 || true
  if ! run_errexit "launch_$name"; then tail_log "$name" "launch failed"; return 1; fi
  if ! wait_ready "$name"; then stop_one "$name" >/dev/null 2>&1 || true; return 1; fi
  log "$name: ready on 127.0.0.1:$port (pid $(<"$(pidfile "$name")"), $(since "$t0") s)"
}

# ---------------------------------------------------------------- stop / status

stop_one() { # name
  local name=$1 pid f
  f=$(pidfile "$name")
  if pid=$(svc_pid "$name"); then
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name: pid $pid still alive after 20 s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    log "$name: stopped (pid $pid)"
  fi
  rm -f "$f"
  [[ $name == kafka ]] && kafka_cleanup_data
  return 0
}

write_env() {
  local tmp="$ENV_FILE.tmp" any=0
  : >"$tmp"
  if svc_pid s3 >/dev/null; then
    echo "BARGE_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT" >>"$tmp"; any=1
  fi
  if svc_pid gcs >/dev/null; then
    echo "BARGE_TEST_GCS_ENDPOINT=http://127.0.0.1:$GCS_PORT" >>"$tmp"; any=1
  fi
  if svc_pid azure >/dev/null; then
    echo "BARGE_TEST_AZURE_CONNECTION_STRING='DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$AZURE_KEY;BlobEndpoint=http://127.0.0.1:$AZURE_PORT/devstoreaccount1;'" >>"$tmp"
    any=1
  fi
  if svc_pid kafka >/dev/null; then
    echo "BARGE_TEST_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT" >>"$tmp"; any=1
    kafka_sasl_env >>"$tmp"
  fi
  if ((any)); then mv -f "$tmp" "$ENV_FILE"; else rm -f "$tmp" "$ENV_FILE"; fi
}

status_one() {
  local name=$1 pid port
  port=$(svc_port "$name")
  if pid=$(svc_pid "$name"); then
    if probe "$name"; then
      printf '%-6s running  pid %-7s 127.0.0.1:%-5s healthy\n' "$name" "$pid" "$port"
      return 0
    fi
    printf '%-6s running  pid %-7s 127.0.0.1:%-5s NOT READY\n' "$name" "$pid" "$port"
    return 1
  fi
  printf '%-6s stopped\n' "$name"
  return 3
}

# ---------------------------------------------------------------- browser

# Debian's Chromium, which the dashboard's browser test (test/src/e2e/dashboard.test.ts)
# drives with playwright-core. Not a service: `start all` and `install all` install it with
# apt-get when `chromium` is missing, as root (or with passwordless sudo).
ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 ||
    die "chromium is missing and apt-get is not available: install Chromium so that 'chromium' is on PATH (the dashboard test runs it; BARGE_TEST_CHROMIUM=PATH points it elsewhere)"
  local sudo=() ilog="$LOGS/install-chromium.log" t0
  if ((EUID != 0)); then
    sudo -n true 2>/dev/null || die "chromium is missing: run 'apt-get install -y chromium' as root (needed by the dashboard test)"
    sudo=(sudo -n)
  fi
  t0=$(now)
  log "chromium: installing with apt-get (for the dashboard test)"
  if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$ilog" 2>&1; then
    log "chromium: apt-get failed; last 60 lines of $ilog:"; tail -n 60 "$ilog" >&2
    die "could not install chromium with apt-get"
  fi
  command -v chromium >/dev/null 2>&1 || die "apt-get installed chromium but 'chromium' is not on PATH"
  log "chromium: installed in $(since "$t0") s"
}

# ---------------------------------------------------------------- main

SERVICES=()
parse_services() { # sets SERVICES (de-duplicated, in order)
  local s
  SERVICES=()
  (($# == 0)) && set -- all
  for s in "$@"; do
    case $s in
      all) SERVICES+=("${ALL_SERVICES[@]}") ;;
      s3 | gcs | azure | kafka) SERVICES+=("$s") ;;
      *) die "unknown service '$s' (expected: all s3 gcs azure kafka)" ;;
    esac
  done
  mapfile -t SERVICES < <(printf '%s\n' "${SERVICES[@]}" | awk '!seen[$0]++')
}

# True when the arguments ask for all services (no arguments means all).
wants_all() { (($# == 0)) || [[ " $* " == *" all "* ]]; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

# Runs fn for each service in parallel; fails if any failed.
parallel() { # fn services...
  local fn=$1; shift
  local s pids=() rc=0 i=0
  for s in "$@"; do
    "$fn" "$s" &
    pids+=($!)
  done
  for s in "$@"; do
    wait "${pids[$i]}" || { rc=1; log "$s: FAILED"; }
    i=$((i + 1))
  done
  return $rc
}

install_logged() {
  local ilog="$LOGS/install-$1.log"
  if run_errexit install_one "$1" >"$ilog" 2>&1; then
    grep -o '\[services\].*' "$ilog" >&2 || log "$1: already installed"
  else
    log "$1: install failed; last 60 lines of $ilog:"; tail -n 60 "$ilog" >&2; return 1
  fi
}

with_lock() {
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$RUN/.lock"
    flock -w 300 9 || die "could not take $RUN/.lock"
  fi
}

main() {
  local cmd=${1:-}; shift || true
  case $cmd in
    install)
      with_lock
      parse_services "$@"
      wants_all "$@" && ensure_chromium
      local t0; t0=$(now)
      parallel install_logged "${SERVICES[@]}"
      log "install done in $(since "$t0") s"
      ;;
    start)
      with_lock
      parse_services "$@"
      wants_all "$@" && ensure_chromium
      local t0 rc=0; t0=$(now)
      parallel start_one "${SERVICES[@]}" || rc=1
      write_env
      if ((rc)); then
        log "start FAILED after $(since "$t0") s (see messages above; logs in $LOGS)"
        exit 1
      fi
      log "all requested services ready in $(since "$t0") s; env: $ENV_FILE"
      ;;
    stop)
      with_lock
      parse_services "$@"
      parallel stop_one "${SERVICES[@]}"
      write_env
      ;;
    status)
      parse_services "$@"
      local s rc=0
      for s in "${SERVICES[@]}"; do status_one "$s" || rc=1; done
      exit $rc
      ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
