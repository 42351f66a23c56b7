#!/usr/bin/env bash
# conntrail local stack without Docker: Apache Kafka 4.x (KRaft, one node that is
# broker and controller) and Apicurio Registry (in-memory, Confluent-compatible
# API), both fetched from Maven Central with Maven and run as plain JVMs.
#
#   stack.sh up [--brokers 3] [--no-registry]
#                               fetch (first time), start, wait until all answer;
#                               --brokers 3: a 3-node KRaft cluster (see below);
#                               --no-registry: Kafka only
#   stack.sh down [--wipe]      stop both (SIGTERM, wait, SIGKILL); --wipe deletes data
#   stack.sh reset              same as down --wipe
#   stack.sh status             state of each; exit 0 only if all are up
#   stack.sh logs [kafka|kafka-N|controller|registry] [-f]   tail the logs (-f follows)
#   stack.sh env [--brokers N]  print the export lines for the clients (the
#                               running layout's brokers unless --brokers says)
#   stack.sh fetch              only download into the cache
#   stack.sh kafka-run CLASS [ARGS]   run a class on Kafka's classpath, e.g.
#                               org.apache.kafka.tools.ProducerPerformance
#
# Endpoints: Kafka 127.0.0.1:9092 (controller 127.0.0.1:9093), registry
# http://127.0.0.1:8081/apis/ccompat/v7 (management 127.0.0.1:8082).
#
# --brokers 3: three brokers (node ids 1-3, components kafka-1..3) on
# KAFKA_PORT+2(i-1) (9092, 9094, 9096) and one KRaft controller (component
# controller) on CONTROLLER_PORT (9093), as Kafka runs in production (a
# dedicated controller: killing a broker never takes the quorum leader with
# it), data in <dir>/kafka-<i> and <dir>/controller; topics default to 3
# partitions, replication factor 3 and min.insync.replicas 2. A broker that
# stops heartbeating is fenced (its partitions get new leaders) after
# CONNTRAIL_STACK_SESSION_TIMEOUT_MS (3000; Kafka's default is 9000). status,
# logs and down follow the layout the last `up` wrote (<dir>/layout).
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
#   CONNTRAIL_STACK_SESSION_TIMEOUT_MS  --brokers 3: broker.session.timeout.ms
#                            (3000; heartbeats every sixth of it)
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
SESSION_TIMEOUT_MS=${CONNTRAIL_STACK_SESSION_TIMEOUT_MS:-3000}
REGISTRY_DEFAULT_VERSION=3.3.3
REGISTRY_FALLBACK_VERSION=2.6.13.Final
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

REGISTRY_URL="http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7"
KAFKA_HOME="$CACHE/kafka-$KAFKA_VERSION"
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

# ---------------------------------------------------------------- layout
# One Kafka node (component "kafka", as always) or a cluster of BROKERS brokers
# ("kafka-1".."kafka-N", broker i on KAFKA_PORT+2(i-1)) and a controller
# ("controller", on CONTROLLER_PORT); `up` records the layout in $DIR/layout for
# the other commands.
BROKERS=1
WITH_REGISTRY=1
BROKERS_GIVEN=""

read_layout() {
  [[ -f "$DIR/layout" ]] || return 0
  local k v
  while IFS='=' read -r k v; do
    case "$k" in
      brokers) [[ "$v" =~ ^(1|3)$ ]] && BROKERS=$v ;;
      registry) [[ "$v" =~ ^[01]$ ]] && WITH_REGISTRY=$v ;;
    esac
  done < "$DIR/layout"
  return 0
}

write_layout() { printf 'brokers=%s\nregistry=%s\n' "$BROKERS" "$WITH_REGISTRY" > "$DIR/layout"; }

set_brokers() { # value of --brokers
  [[ "$1" =~ ^(1|3)$ ]] || { printf 'stack: error: --brokers must be 1 or 3 (a single node, or a 3-node cluster), not "%s"\n' "$1" >&2; exit 2; }
  BROKERS=$1; BROKERS_GIVEN=1
}

ALL_KAFKA_COMPONENTS="kafka controller kafka-1 kafka-2 kafka-3"

broker_nodes() { # the layout's brokers
  if (( BROKERS == 1 )); then echo kafka; else local i; for (( i = 1; i <= BROKERS; i++ )); do printf 'kafka-%s ' "$i"; done; echo; fi
}

kafka_nodes() { # the layout's Kafka processes (a cluster's controller first)
  if (( BROKERS == 1 )); then echo kafka; else echo "controller $(broker_nodes)"; fi
}

node_index() { case "$1" in kafka) echo 1 ;; controller) echo 0 ;; *) echo "${1#kafka-}" ;; esac; }
node_port() { # a broker's client port; the controller's port for the controller
  [[ "$1" == controller ]] && { echo "$CONTROLLER_PORT"; return; }
  echo $(( KAFKA_PORT + 2 * ($(node_index "$1") - 1) ))
}

bootstrap() { # host:port of every broker, comma-separated
  local n out=""
  for n in $(broker_nodes); do out+="${out:+,}127.0.0.1:$(node_port "$n")"; done
  echo "$out"
}

check_cluster_ports() { # a cluster's N+1 ports must all differ
  local n seen=" " p
  for n in $(kafka_nodes); do
    p=$(node_port "$n")
    [[ "$seen" == *" $p "* ]] && die "--brokers $BROKERS: port $p would serve two listeners (brokers use CONNTRAIL_STACK_KAFKA_PORT+2(i-1), the controller CONNTRAIL_STACK_CONTROLLER_PORT); pick other ports"
    seen+="$p "
  done
}

# ---------------------------------------------------------------- processes
pid_of() { # component -> live pid of our process, or nothing
  local f="$DIR/$1/$1.pid" pid
  [[ -f "$f" ]] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  { tr '\0' ' ' < "/proc/$pid/cmdline"; echo; } 2>/dev/null | grep -q -- "-Dconntrail.stack=$1 " || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

node_bin() {
  if [[ -x "$ROOT/node_modules/.bin/node" ]]; then echo "$ROOT/node_modules/.bin/node"
  elif command -v node >/dev/null 2>&1; then command -v node
  else echo ""; fi
}

# kafka_ready [bootstrap [brokers]]: the brokers answer metadata and list at least that many brokers
kafka_ready() {
  local servers=${1:-$(bootstrap)} want=${2:-$BROKERS}
  local first=${servers%%,*}
  port_open "${first##*:}" || return 1
  local node; node=$(node_bin)
  if [[ -n "$node" && -d "$ROOT/node_modules/kafkajs" ]]; then
    "$node" "$ROOT/stack/kafka-ready.mjs" "$servers" "$want" >/dev/null 2>&1
  else # no Node deps installed: Kafka's own tool (slower JVM start)
    "$(kafka_java)" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$KAFKA_HOME/libs/*" \
      org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-server "$servers" describe --status >/dev/null 2>&1
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

write_kafka_config() { # component
  local kdir="$DIR/$1"
  mkdir -p "$kdir/data"
  if [[ "$1" == kafka ]]; then
  cat > "$kdir/server.properties" <<EOP
# written by stack/stack.sh on every 'up'
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$kdir/data
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
EOP
  return
  fi
  local heartbeat=$(( SESSION_TIMEOUT_MS / 6 > 50 ? SESSION_TIMEOUT_MS / 6 : 50 ))
  if [[ "$1" == controller ]]; then
  cat > "$kdir/server.properties" <<EOP
# written by stack/stack.sh on every 'up' (the controller of $BROKERS brokers)
process.roles=controller
node.id=0
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
listeners=CONTROLLER://127.0.0.1:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT
log.dirs=$kdir/data
# the controller creates the topics: the defaults of a topic created without them are its
num.partitions=3
default.replication.factor=3
min.insync.replicas=2
# a broker that stops heartbeating (a crash) is fenced, and its partitions get
# new leaders, after this long (Kafka's default: 9000)
broker.session.timeout.ms=$SESSION_TIMEOUT_MS
broker.heartbeat.interval.ms=$heartbeat
EOP
  return
  fi
  local port; port=$(node_port "$1")
  cat > "$kdir/server.properties" <<EOP
# written by stack/stack.sh on every 'up' (broker $(node_index "$1") of $BROKERS)
process.roles=broker
node.id=$(node_index "$1")
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$kdir/data
num.partitions=3
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
log.retention.hours=24
# heartbeats to the controller (Kafka's default: 2000), a sixth of its session timeout
broker.heartbeat.interval.ms=$heartbeat
EOP
}

KAFKA_LOGOPTS=(-Dorg.slf4j.simpleLogger.showDateTime=true
  "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS"
  -Dorg.slf4j.simpleLogger.log.org.apache.kafka.common.config.AbstractConfig=warn)

random_cluster_id() {
  local id; id=$("$1" -cp "$KAFKA_HOME/libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
  [[ -n "$id" ]] || die "kafka.tools.StorageTool random-uuid failed"
  echo "$id"
}

format_node() { # component java cluster-id [format options]: format the node's storage if it has none
  local kdir="$DIR/$1" java=$2 id=$3; shift 3
  [[ -f "$kdir/data/meta.properties" ]] && return 0
  "$java" "${KAFKA_LOGOPTS[@]}" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$KAFKA_HOME/libs/*" \
    kafka.tools.StorageTool format "$@" -t "$id" -c "$kdir/server.properties" >"$kdir/format.log" 2>&1 \
    || die "formatting the KRaft storage of $1 failed, see $kdir/format.log"
}

start_kafka_node() { # component java
  local c=$1 java=$2 kdir="$DIR/$1"
  : >> "$kdir/kafka.log"
  # setsid: a Ctrl-C in the caller's terminal does not reach the broker
  setsid "$java" "-Dconntrail.stack=$c" $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true "${KAFKA_LOGOPTS[@]}" \
    -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$kdir/server.properties" \
    >>"$kdir/kafka.log" 2>&1 </dev/null 9>&- &
  echo $! > "$kdir/$c.pid"
  say "$c starting (pid $!, log $kdir/kafka.log)"
}

check_node_ports() { # component
  if [[ "$1" == kafka ]]; then
    port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by another process (not this stack's Kafka); stop it or set CONNTRAIL_STACK_KAFKA_PORT"
    port_open "$CONTROLLER_PORT" && die "port $CONTROLLER_PORT is taken by another process; stop it or set CONNTRAIL_STACK_CONTROLLER_PORT"
  elif [[ "$1" == controller ]]; then
    port_open "$CONTROLLER_PORT" && die "port $CONTROLLER_PORT is taken by another process; stop it or set CONNTRAIL_STACK_CONTROLLER_PORT"
  else
    local port; port=$(node_port "$1")
    port_open "$port" && die "port $port ($1) is taken by another process (not this stack's Kafka); stop it or set CONNTRAIL_STACK_KAFKA_PORT"
  fi
  return 0
}

start_kafka() {
  local n running=1
  for n in $(kafka_nodes); do pid_of "$n" >/dev/null || running=0; done
  if (( running )); then say "kafka already running ($(kafka_nodes | wc -w) node(s))"; return 0; fi
  local java; java=$(kafka_java)
  for n in $(kafka_nodes); do pid_of "$n" >/dev/null || check_node_ports "$n"; done
  for n in $(kafka_nodes); do write_kafka_config "$n"; done
  if (( BROKERS == 1 )); then
    if [[ ! -f "$DIR/kafka/data/meta.properties" ]]; then
      local id; id=$(random_cluster_id "$java")
      format_node kafka "$java" "$id" --standalone
      say "kafka storage formatted (cluster id $id)"
    fi
  else
    # every node of the cluster carries the same cluster id: reuse a formatted node's
    local id="" pids=() fresh=0
    for n in $(kafka_nodes); do
      [[ -f "$DIR/$n/data/meta.properties" ]] && id=${id:-$(sed -n 's/^cluster\.id=//p' "$DIR/$n/data/meta.properties")}
      [[ -f "$DIR/$n/data/meta.properties" ]] || fresh=1
    done
    if (( fresh )); then
      id=${id:-$(random_cluster_id "$java")}
      for n in $(kafka_nodes); do
        if [[ "$n" == controller ]]; then (format_node "$n" "$java" "$id" --standalone) & else (format_node "$n" "$java" "$id") & fi
        pids+=($!)
      done
      for n in "${pids[@]}"; do wait "$n" || exit 1; done
      say "kafka storage formatted: a controller and $BROKERS brokers (cluster id $id)"
    fi
  fi
  for n in $(kafka_nodes); do pid_of "$n" >/dev/null || start_kafka_node "$n" "$java"; done
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

# wait_ready "components" readyfn "logs"
wait_ready() {
  local cs=$1 fn=$2 logs=$3 deadline=$(( $(date +%s) + TIMEOUT )) c
  while :; do
    for c in $cs; do
      # the pid file's process, alive (just started, it may not have exec'd java yet)
      if ! kill -0 "$(cat "$DIR/$c/$c.pid" 2>/dev/null || echo none)" 2>/dev/null; then
        local log; log=$(printf '%s\n' $logs | grep -F "/$c/" | head -n1)
        printf 'stack: error: %s exited during startup; last lines of %s:\n' "$c" "$log" >&2
        tail -n 25 "$log" >&2 || true
        exit 1
      fi
    done
    "$fn" && return 0
    if (( $(date +%s) >= deadline )); then
      die "$cs not ready after ${TIMEOUT}s (CONNTRAIL_STACK_TIMEOUT); still running, see $logs"
    fi
    sleep 0.5
  done
}

kafka_logs() { local n; for n in $(kafka_nodes); do printf '%s ' "$DIR/$n/kafka.log"; done; }

print_env() {
  echo "export CONNTRAIL_KAFKA_BROKERS=$(bootstrap)"
  echo "export CONNTRAIL_REGISTRY_URL=$REGISTRY_URL"
}

lock() { mkdir -p "$DIR"; exec 9>"$DIR/.lock"; flock -w 300 9 || die "another stack.sh holds $DIR/.lock"; }

# ---------------------------------------------------------------- commands
all_up() {
  local n
  for n in $(kafka_nodes); do pid_of "$n" >/dev/null || return 1; done
  if (( WITH_REGISTRY )); then pid_of registry >/dev/null || return 1; fi
  kafka_ready || return 1
  if (( WITH_REGISTRY )); then registry_ready || return 1; fi
}

cmd_up() {
  local a want_registry=1
  while (( $# )); do
    case "$1" in
      --brokers) (( $# >= 2 )) || { echo "stack: error: --brokers needs a value (1 or 3)" >&2; exit 2; }; set_brokers "$2"; shift ;;
      --brokers=*) set_brokers "${1#--brokers=}" ;;
      --no-registry) want_registry=0 ;;
      *) echo "stack: error: up: unknown option $1 (use --brokers 3, --no-registry)" >&2; exit 2 ;;
    esac
    shift
  done
  lock
  local t0; t0=$(date +%s)
  # another layout may run in this directory: one at a time
  local other
  for other in $ALL_KAFKA_COMPONENTS; do
    [[ " $(kafka_nodes) " == *" $other "* ]] && continue
    pid_of "$other" >/dev/null && die "$other of another layout runs in $DIR (stack.sh down first, or use another CONNTRAIL_STACK_DIR)"
  done
  (( BROKERS == 1 )) || check_cluster_ports
  WITH_REGISTRY=$want_registry
  kafka_java >/dev/null
  if (( WITH_REGISTRY )); then pick_registry; fi
  if all_up; then
    say "already running"
  else
    fetch_kafka
    if (( WITH_REGISTRY )); then fetch_registry; fi
    write_layout
    start_kafka
    if (( WITH_REGISTRY )); then start_registry; fi
    wait_ready "$(kafka_nodes)" kafka_ready "$(kafka_logs)"
    say "kafka ready on $(bootstrap)"
    if (( WITH_REGISTRY )); then
      wait_ready registry registry_ready "$RDIR/registry.log"
      say "registry ready on $REGISTRY_URL"
    fi
    say "up in $(( $(date +%s) - t0 ))s"
  fi
  write_layout
  print_env
}

# stop_all component...: SIGTERM to each at once (a cluster's brokers shut down
# together), then wait, SIGKILL after 30 s
stop_all() {
  local c pid i pids=() names=()
  for c in "$@"; do
    if pid=$(pid_of "$c"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid"); names+=("$c")
    else
      rm -f "$DIR/$c/$c.pid"; say "$c not running"
    fi
  done
  (( ${#pids[@]} )) || return 0
  for (( i = 0; i < 300; i++ )); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    (( alive )) || break
    sleep 0.1
  done
  for i in "${!pids[@]}"; do
    pid=${pids[$i]}; c=${names[$i]}
    if kill -0 "$pid" 2>/dev/null; then
      say "$c (pid $pid) still running after 30s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      local j; for (( j = 0; j < 50; j++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$DIR/$c/$c.pid"
    say "$c stopped (pid $pid)"
  done
}

cmd_down() {
  local wipe=0
  for a in "$@"; do
    case "$a" in --wipe) wipe=1 ;; *) die "down: unknown option $a (use --wipe)" ;; esac
  done
  lock
  stop_all registry
  # the layout's nodes, and any node of another layout still running here;
  # brokers before the controller (their controlled shutdown asks it)
  local brokers=() controller=() n
  for n in $ALL_KAFKA_COMPONENTS; do
    if [[ " $(kafka_nodes) " == *" $n "* ]] || pid_of "$n" >/dev/null; then
      if [[ "$n" == controller ]]; then controller=("$n"); else brokers+=("$n"); fi
    fi
  done
  if (( ${#brokers[@]} )); then stop_all "${brokers[@]}"; fi
  if (( ${#controller[@]} )); then stop_all "${controller[@]}"; fi
  if (( wipe )); then
    local wiped=()
    for n in $ALL_KAFKA_COMPONENTS; do [[ -d "$DIR/$n" ]] && { rm -rf "${DIR:?}/$n"; wiped+=("$DIR/$n"); }; done
    rm -rf "$RDIR"; wiped+=("$RDIR")
    rm -f "$DIR/layout"
    say "wiped ${wiped[*]}"
  fi
}

status_kafka_node() { # component -> prints its line; returns 1 unless up
  local c=$1 pid addr; addr="127.0.0.1:$(node_port "$c")"
  if [[ "$c" == controller ]]; then # no client listener: up when its port is open
    if pid=$(pid_of "$c"); then
      if port_open "$(node_port "$c")"; then printf '%-9s up        pid %-7s %s (KRaft controller)\n' "$c" "$pid" "$addr"
      else printf '%-9s starting  pid %-7s %s not listening yet (log %s)\n' "$c" "$pid" "$addr" "$DIR/$c/kafka.log"; return 1; fi
    else
      printf '%-9s down\n' "$c"; return 1
    fi
    return 0
  fi
  if pid=$(pid_of "$c"); then
    if kafka_ready "$addr" 1; then printf '%-9s up        pid %-7s %s (Kafka %s)\n' "$c" "$pid" "$addr" "$KAFKA_VERSION"
    else printf '%-9s starting  pid %-7s %s not answering yet (log %s)\n' "$c" "$pid" "$addr" "$DIR/$c/kafka.log"; return 1; fi
  else
    if port_open "$(node_port "$c")"; then printf '%-9s foreign   %s answers, but not this stack'"'"'s Kafka\n' "$c" "$addr"
    else printf '%-9s down\n' "$c"; fi
    return 1
  fi
}

cmd_status() {
  local ok=0 pid n
  for n in $(kafka_nodes); do status_kafka_node "$n" || ok=1; done
  if (( BROKERS > 1 && ok == 0 )) && ! kafka_ready; then
    printf '%-9s forming   fewer than %s brokers registered yet\n' cluster "$BROKERS"; ok=1
  fi
  if pid=$(pid_of registry); then
    local v; v=$(cat "$RDIR/version" 2>/dev/null || echo '?')
    if registry_ready; then printf '%-9s up        pid %-7s %s (Apicurio %s)\n' registry "$pid" "$REGISTRY_URL" "$v"
    else printf '%-9s starting  pid %-7s %s not answering yet (log %s)\n' registry "$pid" "$REGISTRY_URL" "$RDIR/registry.log"; ok=1; fi
  elif (( ! WITH_REGISTRY )); then
    printf '%-9s off       (up --no-registry)\n' registry
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
      kafka|kafka-[0-9]|controller|registry) which=$a ;;
      -f|--follow) follow=1 ;;
      *) die "logs: unknown argument $a (use [kafka|kafka-N|controller|registry] [-f])" ;;
    esac
  done
  [[ -t 1 ]] && follow=1
  local n
  for n in $(kafka_nodes); do
    [[ -z "$which" || "$which" == kafka || "$which" == "$n" ]] && files+=("$DIR/$n/kafka.log")
  done
  [[ -z "$which" || "$which" == registry ]] && files+=("$RDIR/registry.log")
  local f existing=()
  for f in "${files[@]}"; do [[ -f "$f" ]] && existing+=("$f"); done
  (( ${#existing[@]} )) || die "no logs yet under $DIR (run 'stack.sh up' first)"
  if (( follow )); then exec tail -n 100 -F "${existing[@]}"; else exec tail -n 100 "${existing[@]}"; fi
}

cmd_env() {
  while (( $# )); do
    case "$1" in
      --brokers) (( $# >= 2 )) || { echo "stack: error: --brokers needs a value (1 or 3)" >&2; exit 2; }; set_brokers "$2"; shift ;;
      --brokers=*) set_brokers "${1#--brokers=}" ;;
      *) echo "stack: error: env: unknown option $1 (use --brokers N)" >&2; exit 2 ;;
    esac
    shift
  done
  print_env
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

read_layout
case "${1:-}" in
  up) shift; BROKERS=1; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  reset) shift; cmd_down --wipe ;;
  status) shift; cmd_status ;;
  logs) shift; cmd_logs "$@" ;;
  env) shift; cmd_env "$@" ;;
  fetch) cmd_fetch ;;
  kafka-run) shift; cmd_kafka_run "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
