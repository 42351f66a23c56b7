#!/usr/bin/env bash
# conntrail local stack without Docker: Apache Kafka 4.x (KRaft, one node that is
# broker and controller) and Apicurio Registry (in-memory, Confluent-compatible
# API), both fetched from Maven Central with Maven and run as plain JVMs.
#
#   stack.sh up                 fetch (first time), start, wait until both answer
#   stack.sh down [--wipe]      stop both (SIGTERM, wait, SIGKILL); --wipe deletes data
#   stack.sh reset              same as down --wipe
#   stack.sh status             state of each; exit 0 only if both are up
#   stack.sh logs [kafka|registry] [-f]   tail the logs (-f follows)
#   stack.sh env                print the export lines for the clients
#   stack.sh fetch              only download into the cache
#   stack.sh kafka-run CLASS [ARGS]   run a class on Kafka's classpath, e.g.
#                               org.apache.kafka.tools.ProducerPerformance
#
# Endpoints: Kafka 127.0.0.1:9092 (controller 127.0.0.1:9093), registry
# http://127.0.0.1:8081/apis/ccompat/v7 (management 127.0.0.1:8082).
#
# Environment (all optional):
#   CONNTRAIL_STACK_CACHE    downloads + Maven repo   (~/.cache/conntrail-stack)
#   CONNTRAIL_STACK_DIR      data, logs, pid files    (<repo>/.stack)
#   CONNTRAIL_STACK_TIMEOUT  seconds `up` waits        (120)
#   CONNTRAIL_KAFKA_VERSION  org.apache.kafka version (4.4.0)
#   CONNTRAIL_KAFKA_HEAP     Kafka JVM heap opts       (-Xms128m -Xmx512m)
#   CONNTRAIL_KAFKA_JAVA     java binary for Kafka, 17+ (JAVA_HOME or PATH)
#   CONNTRAIL_REGISTRY_VERSION  apicurio-registry-app version (3.3.3, needs Java 21+;
#                            falls back to 2.6.13.Final on Java 17 when no 21+ is found)
#   CONNTRAIL_REGISTRY_JAVA  java binary for the registry (newest 21+ found)
#   CONNTRAIL_REGISTRY_HEAP  registry JVM heap opts    (-Xms64m -Xmx512m)
#   CONNTRAIL_REGISTRY_COMPATIBILITY  default global compatibility rule (BACKWARD,
#                            as Confluent's default; NONE to start without one)
#   CONNTRAIL_STACK_KAFKA_PORT / _CONTROLLER_PORT / _REGISTRY_PORT / _REGISTRY_MGMT_PORT
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${CONNTRAIL_STACK_CACHE:-$HOME/.cache/conntrail-stack}
DIR=${CONNTRAIL_STACK_DIR:-$ROOT/.stack}
TIMEOUT=${CONNTRAIL_STACK_TIMEOUT:-120}
KAFKA_VERSION=${CONNTRAIL_KAFKA_VERSION:-4.4.0}
KAFKA_HEAP=${CONNTRAIL_KAFKA_HEAP:--Xms128m -Xmx512m}
REGISTRY_HEAP=${CONNTRAIL_REGISTRY_HEAP:--Xms64m -Xmx512m}
REGISTRY_COMPAT=${CONNTRAIL_REGISTRY_COMPATIBILITY:-BACKWARD}
KAFKA_PORT=${CONNTRAIL_STACK_KAFKA_PORT:-9092}
CONTROLLER_PORT=${CONNTRAIL_STACK_CONTROLLER_PORT:-9093}
REGISTRY_PORT=${CONNTRAIL_STACK_REGISTRY_PORT:-8081}
REGISTRY_MGMT_PORT=${CONNTRAIL_STACK_REGISTRY_MGMT_PORT:-8082}
REGISTRY_DEFAULT_VERSION=3.3.3
REGISTRY_FALLBACK_VERSION=2.6.13.Final
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
REGISTRY_URL="http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"
KAFKA_HOME="$CACHE/kafka-$KAFKA_VERSION"
KDIR="$DIR/kafka"
RDIR="$DIR/registry"

say() { printf 'stack: %s\n' "$*"; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- java / maven
java_major() { # java binary -> major version number (0 if unusable)
  local v
  v=$("$1" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9.]*\).*/\1/p' | head -n1) || true
  case "$v" in
    1.*) v=${v#1.}; echo "${v%%.*}" ;;
    "") echo 0 ;;
    *) echo "${v%%.*}" ;;
  esac
}

default_java() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then echo "$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then command -v java
  else echo ""; fi
}

kafka_java() {
  local j=${CONNTRAIL_KAFKA_JAVA:-$(default_java)}
  [[ -n "$j" ]] || die "java not found: Kafka needs Java 17+ (apt-get install openjdk-17-jre-headless, or set JAVA_HOME)"
  local m; m=$(java_major "$j")
  (( m >= 17 )) || die "$j is Java $m: Kafka $KAFKA_VERSION needs Java 17+ (set CONNTRAIL_KAFKA_JAVA or JAVA_HOME)"
  echo "$j"
}

# Newest java >= $1 among JAVA_HOME, PATH and /usr/lib/jvm/*; empty if none.
newest_java_at_least() {
  local want=$1 best="" bestm=0 j m
  for j in "$(default_java)" /usr/lib/jvm/*/bin/java; do
    [[ -n "$j" && -x "$j" ]] || continue
    m=$(java_major "$j")
    if (( m >= want && m > bestm )); then best=$j; bestm=$m; fi
  done
  echo "$best"
}

registry_major() { [[ "$1" == 2.* ]] && echo 2 || echo 3; }

# Sets REGISTRY_VERSION and REGISTRY_JAVA.
pick_registry() {
  REGISTRY_VERSION=${CONNTRAIL_REGISTRY_VERSION:-$REGISTRY_DEFAULT_VERSION}
  local need=21
  [[ $(registry_major "$REGISTRY_VERSION") == 2 ]] && need=17
  if [[ -n "${CONNTRAIL_REGISTRY_JAVA:-}" ]]; then
    REGISTRY_JAVA=$CONNTRAIL_REGISTRY_JAVA
    local m; m=$(java_major "$REGISTRY_JAVA")
    (( m >= need )) || die "CONNTRAIL_REGISTRY_JAVA=$REGISTRY_JAVA is Java $m: Apicurio $REGISTRY_VERSION needs Java $need+"
    return
  fi
  REGISTRY_JAVA=$(newest_java_at_least "$need")
  if [[ -z "$REGISTRY_JAVA" && $need == 21 && -z "${CONNTRAIL_REGISTRY_VERSION:-}" ]]; then
    REGISTRY_VERSION=$REGISTRY_FALLBACK_VERSION
    REGISTRY_JAVA=$(newest_java_at_least 17)
    say "warning: no Java 21+ found (Apicurio $REGISTRY_DEFAULT_VERSION needs it); using Apicurio $REGISTRY_VERSION on Java 17" >&2
  fi
  [[ -n "$REGISTRY_JAVA" ]] || die "java not found: Apicurio $REGISTRY_VERSION needs Java $need+ (set CONNTRAIL_REGISTRY_JAVA)"
}

need_mvn() {
  command -v mvn >/dev/null 2>&1 || die "mvn not found: the first 'up' downloads Kafka and Apicurio from Maven Central with Maven (apt-get install maven)"
}

mvn_q() { # quiet, batch, our own local repository; Maven 3.8 -q still prints colour resets
  (cd "$CACHE" && mvn -B -q -Dstyle.color=never -Dmaven.repo.local="$CACHE/m2" "$@" 9>&- 2>&1 \
    | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d')
}

# ---------------------------------------------------------------- downloads
fetch_kafka() {
  [[ -f "$KAFKA_HOME/.complete" ]] && return 0
  need_mvn; mkdir -p "$CACHE"
  say "fetching Apache Kafka $KAFKA_VERSION (kafka_2.13, kafka-tools, slf4j-simple) with Maven..."
  rm -rf "$KAFKA_HOME.tmp"
  mvn_q -f "$ROOT/stack/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    "$DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME.tmp/libs" \
    || die "Maven could not fetch Kafka $KAFKA_VERSION (see the output above)"
  ls "$KAFKA_HOME.tmp/libs"/kafka_2.13-*.jar >/dev/null 2>&1 || die "kafka_2.13 jar missing after download"
  rm -rf "$KAFKA_HOME"; mv "$KAFKA_HOME.tmp" "$KAFKA_HOME"; touch "$KAFKA_HOME/.complete"
}

registry_home() { echo "$CACHE/apicurio-registry-$REGISTRY_VERSION"; }

fetch_registry() {
  local home; home=$(registry_home)
  [[ -f "$home/.complete" ]] && return 0
  need_mvn; mkdir -p "$CACHE"
  say "fetching Apicurio Registry $REGISTRY_VERSION (apicurio-registry-app, 'all' archive) with Maven..."
  rm -rf "$home.tmp"; mkdir -p "$home.tmp"
  mvn_q "$DEP_PLUGIN:copy" -Dartifact="io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all" \
    -DoutputDirectory="$home.tmp" \
    || die "Maven could not fetch io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all (see above)"
  tar -xzf "$home.tmp"/apicurio-registry-app-*-all.tar.gz -C "$home.tmp" || die "could not unpack the Apicurio archive"
  rm -f "$home.tmp"/apicurio-registry-app-*-all.tar.gz
  # the unpacked copy is what runs: drop the archive from the Maven repo (150 MB)
  rm -rf "$CACHE/m2/io/apicurio/apicurio-registry-app/$REGISTRY_VERSION"
  rm -rf "$home"; mv "$home.tmp" "$home"; touch "$home/.complete"
}

registry_cmd() { # prints nothing; fills REG_CMD array
  local home; home=$(registry_home)
  # C1 only + serial GC: quicker start on 2 cores, plenty for a test registry
  REG_CMD=("$REGISTRY_JAVA" $REGISTRY_HEAP -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError
    -Dconntrail.stack=registry
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT")
  if [[ $(registry_major "$REGISTRY_VERSION") == 3 ]]; then
    REG_CMD+=(-Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$REGISTRY_MGMT_PORT"
      -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2
      -Dapicurio.ccompat.legacy-id-mode.enabled=true)
    [[ "$REGISTRY_COMPAT" == NONE ]] || REG_CMD+=(-Dapicurio.rules.global.compatibility="$REGISTRY_COMPAT")
    REG_CMD+=(-jar "$home/quarkus-run.jar")
  else
    REG_CMD+=(-Dregistry.ccompat.legacy-id-mode.enabled=true)
    [[ "$REGISTRY_COMPAT" == NONE ]] || REG_CMD+=(-Dregistry.rules.global.compatibility="$REGISTRY_COMPAT")
    REG_CMD+=(-jar "$(ls "$home"/apicurio-registry-app-*-runner.jar | head -n1)")
  fi
}

# ---------------------------------------------------------------- processes
pid_of() { # component -> live pid of our process, or nothing
  local f="$DIR/$1/$1.pid" pid
  [[ -f "$f" ]] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-Dconntrail.stack=$1" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

node_bin() {
  if [[ -x "$ROOT/node_modules/.bin/node" ]]; then echo "$ROOT/node_modules/.bin/node"
  elif command -v node >/dev/null 2>&1; then command -v node
  else echo ""; fi
}

kafka_ready() {
  port_open "$KAFKA_PORT" || return 1
  local node; node=$(node_bin)
  if [[ -n "$node" && -d "$ROOT/node_modules/kafkajs" ]]; then
    "$node" "$ROOT/stack/kafka-ready.mjs" "$BOOTSTRAP" >/dev/null 2>&1
  else # no Node deps installed: Kafka's own tool (slower JVM start)
    "$(kafka_java)" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$KAFKA_HOME/libs/*" \
      org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-server "$BOOTSTRAP" describe --status >/dev/null 2>&1
  fi
}

registry_ready() {
  if command -v curl >/dev/null 2>&1; then
    curl -sf -m 3 -o /dev/null "$REGISTRY_URL/subjects"
  else
    local node; node=$(node_bin); [[ -n "$node" ]] || return 1
    "$node" -e "fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" "$REGISTRY_URL/subjects"
  fi
}

write_kafka_config() {
  mkdir -p "$KDIR/data"
  cat > "$KDIR/server.properties" <<EOF
# written by stack/stack.sh on every 'up'
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KDIR/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=24
EOF
}

start_kafka() {
  if pid_of kafka >/dev/null; then say "kafka already running (pid $(pid_of kafka))"; return 0; fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process (not this stack's Kafka); stop it or set CONNTRAIL_STACK_KAFKA_PORT"
  port_open "$CONTROLLER_PORT" && die "port $CONTROLLER_PORT is taken by another process; stop it or set CONNTRAIL_STACK_CONTROLLER_PORT"
  local java; java=$(kafka_java)
  write_kafka_config
  local logopts=(-Dorg.slf4j.simpleLogger.showDateTime=true
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS"
    -Dorg.slf4j.simpleLogger.log.org.apache.kafka.common.config.AbstractConfig=warn)
  if [[ ! -f "$KDIR/data/meta.properties" ]]; then
    local id; id=$("$java" -cp "$KAFKA_HOME/libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
    [[ -n "$id" ]] || die "kafka.tools.StorageTool random-uuid failed"
    "$java" "${logopts[@]}" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$KAFKA_HOME/libs/*" \
      kafka.tools.StorageTool format --standalone -t "$id" -c "$KDIR/server.properties" >"$KDIR/format.log" 2>&1 \
      || die "formatting the KRaft storage failed, see $KDIR/format.log"
    say "kafka storage formatted (cluster id $id)"
  fi
  : >> "$KDIR/kafka.log"
  # setsid: a Ctrl-C in the caller's terminal does not reach the broker
  setsid "$java" -Dconntrail.stack=kafka $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true "${logopts[@]}" \
    -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$KDIR/server.properties" \
    >>"$KDIR/kafka.log" 2>&1 </dev/null 9>&- &
  echo $! > "$KDIR/kafka.pid"
  say "kafka starting (pid $!, log $KDIR/kafka.log)"
}

start_registry() {
  if pid_of registry >/dev/null; then say "registry already running (pid $(pid_of registry))"; return 0; fi
  port_open "$REGISTRY_PORT" && die "port $REGISTRY_PORT is taken by another process (not this stack's registry); stop it or set CONNTRAIL_STACK_REGISTRY_PORT"
  [[ $(registry_major "$REGISTRY_VERSION") == 3 ]] && port_open "$REGISTRY_MGMT_PORT" \
    && die "port $REGISTRY_MGMT_PORT (registry management) is taken; set CONNTRAIL_STACK_REGISTRY_MGMT_PORT"
  mkdir -p "$RDIR"
  registry_cmd
  : >> "$RDIR/registry.log"
  (cd "$RDIR" && exec setsid "${REG_CMD[@]}" >>"$RDIR/registry.log" 2>&1 </dev/null 9>&-) &
  echo $! > "$RDIR/registry.pid"
  echo "$REGISTRY_VERSION" > "$RDIR/version"
  say "registry starting: Apicurio $REGISTRY_VERSION on $("$REGISTRY_JAVA" -version 2>&1 | head -n1 | sed 's/ *$//') (pid $!, log $RDIR/registry.log)"
}

# wait_ready component readyfn log
wait_ready() {
  local c=$1 fn=$2 log=$3 deadline=$(( $(date +%s) + TIMEOUT ))
  while :; do
    if ! pid_of "$c" >/dev/null; then
      printf 'stack: error: %s exited during startup; last lines of %s:\n' "$c" "$log" >&2
      tail -n 25 "$log" >&2 || true
      exit 1
    fi
    "$fn" && return 0
    if (( $(date +%s) >= deadline )); then
      die "$c not ready after ${TIMEOUT}s (CONNTRAIL_STACK_TIMEOUT); it is still running, see $log"
    fi
    sleep 0.5
  done
}

print_env() {
  echo "export CONNTRAIL_KAFKA_BROKERS=$BOOTSTRAP"
  echo "export CONNTRAIL_REGISTRY_URL=$REGISTRY_URL"
}

lock() { mkdir -p "$DIR"; exec 9>"$DIR/.lock"; flock -w 300 9 || die "another stack.sh holds $DIR/.lock"; }

# ---------------------------------------------------------------- commands
cmd_up() {
  lock
  local t0; t0=$(date +%s)
  kafka_java >/dev/null
  pick_registry
  if pid_of kafka >/dev/null && pid_of registry >/dev/null && kafka_ready && registry_ready; then
    say "already running"
  else
    fetch_kafka
    fetch_registry
    start_kafka
    start_registry
    wait_ready kafka kafka_ready "$KDIR/kafka.log"
    say "kafka ready on $BOOTSTRAP"
    wait_ready registry registry_ready "$RDIR/registry.log"
    say "registry ready on $REGISTRY_URL"
    say "up in $(( $(date +%s) - t0 ))s"
  fi
  print_env
}

stop_one() {
  local c=$1 pid i
  if ! pid=$(pid_of "$c"); then
    rm -f "$DIR/$c/$c.pid"; say "$c not running"; return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for (( i = 0; i < 300; i++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    say "$c (pid $pid) still running after 30s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for (( i = 0; i < 50; i++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$DIR/$c/$c.pid"
  say "$c stopped (pid $pid)"
}

cmd_down() {
  local wipe=0
  for a in "$@"; do
    case "$a" in --wipe) wipe=1 ;; *) die "down: unknown option $a (use --wipe)" ;; esac
  done
  lock
  stop_one registry
  stop_one kafka
  if (( wipe )); then
    rm -rf "$KDIR" "$RDIR"
    say "wiped $KDIR and $RDIR"
  fi
}

cmd_status() {
  local ok=0 pid
  if pid=$(pid_of kafka); then
    if kafka_ready; then printf '%-9s up        pid %-7s %s (Kafka %s)\n' kafka "$pid" "$BOOTSTRAP" "$KAFKA_VERSION"
    else printf '%-9s starting  pid %-7s %s not answering yet (log %s)\n' kafka "$pid" "$BOOTSTRAP" "$KDIR/kafka.log"; ok=1; fi
  else
    if port_open "$KAFKA_PORT"; then printf '%-9s foreign   %s answers, but not this stack'"'"'s Kafka\n' kafka "$BOOTSTRAP"
    else printf '%-9s down\n' kafka; fi
    ok=1
  fi
  if pid=$(pid_of registry); then
    local v; v=$(cat "$RDIR/version" 2>/dev/null || echo '?')
    if registry_ready; then printf '%-9s up        pid %-7s %s (Apicurio %s)\n' registry "$pid" "$REGISTRY_URL" "$v"
    else printf '%-9s starting  pid %-7s %s not answering yet (log %s)\n' registry "$pid" "$REGISTRY_URL" "$RDIR/registry.log"; ok=1; fi
  else
    if registry_ready; then printf '%-9s foreign   %s answers, but not this stack'"'"'s registry\n' registry "$REGISTRY_URL"
    else printf '%-9s down\n' registry; fi
    ok=1
  fi
  return $ok
}

cmd_logs() {
  local which="" follow=0 files=()
  for a in "$@"; do
    case "$a" in
      kafka|registry) which=$a ;;
      -f|--follow) follow=1 ;;
      *) die "logs: unknown argument $a (use [kafka|registry] [-f])" ;;
    esac
  done
  [[ -t 1 ]] && follow=1
  [[ -z "$which" || "$which" == kafka ]] && files+=("$KDIR/kafka.log")
  [[ -z "$which" || "$which" == registry ]] && files+=("$RDIR/registry.log")
  local f existing=()
  for f in "${files[@]}"; do [[ -f "$f" ]] && existing+=("$f"); done
  (( ${#existing[@]} )) || die "no logs yet under $DIR (run 'stack.sh up' first)"
  if (( follow )); then exec tail -n 100 -F "${existing[@]}"; else exec tail -n 100 "${existing[@]}"; fi
}

cmd_fetch() {
  kafka_java >/dev/null
  pick_registry
  fetch_kafka
  fetch_registry
  say "cache ready: $KAFKA_HOME, $(registry_home)"
}

cmd_kafka_run() {
  (( $# >= 1 )) || die "kafka-run: give a main class, e.g. org.apache.kafka.tools.ProducerPerformance"
  kafka_java >/dev/null
  fetch_kafka >&2
  exec "$(kafka_java)" -Xmx512m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$KAFKA_HOME/libs/*" "$@"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  reset) shift; cmd_down --wipe ;;
  status) shift; cmd_status ;;
  logs) shift; cmd_logs "$@" ;;
  env) print_env ;;
  fetch) cmd_fetch ;;
  kafka-run) shift; cmd_kafka_run "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
