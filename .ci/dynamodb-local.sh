#!/usr/bin/env bash
# dynamodb-local.sh installs and runs the real AWS DynamoDB Local for the
# integration tier (make e2e) and the booking benchmark (make bench).
#
# Usage:
#   .ci/dynamodb-local.sh install        fetch DynamoDB Local into the cache
#   .ci/dynamodb-local.sh start          start it; prints the endpoint URL
#   .ci/dynamodb-local.sh stop           stop the instance that start began
#   .ci/dynamodb-local.sh run -- CMD...  start a private instance, run CMD
#                                        with GREENROOM_DYNAMODB_ENDPOINT set,
#                                        always stop it, exit with CMD's status
#
# DynamoDB Local comes from Maven Central (com.amazonaws:DynamoDBLocal) with
# its dependencies, including the sqlite4java native library, and is kept
# outside the repository in ${GREENROOM_CACHE:-$HOME/.cache/greenroom}.
# It needs Java 17 or later and Maven.
set -euo pipefail

VERSION="${DYNAMODB_LOCAL_VERSION:-2.6.1}"
CACHE="${GREENROOM_CACHE:-$HOME/.cache/greenroom}/dynamodb-local"
HOME_DIR="$CACHE/$VERSION"
LIB_DIR="$HOME_DIR/lib"
STATE_DIR="${DYNAMODB_LOCAL_STATE:-$CACHE/state}"
MAIN_CLASS="com.amazonaws.services.dynamodbv2.local.main.ServerRunner"
START_TIMEOUT="${DYNAMODB_LOCAL_START_TIMEOUT:-90}"

log() { echo "dynamodb-local: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# need makes sure the command $1 exists, installing the Debian package $2
# when it is missing and this is a root shell with apt-get.
need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		log "installing $2 for $1"
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"; } >&2 ||
			die "could not install $2"
	fi
	command -v "$1" >/dev/null 2>&1 || die "$1 is required (Debian package $2)"
}

# fetch copies DynamoDB Local and its dependencies into a fresh directory
# and moves it into place only when complete, so a broken download never
# looks installed.
fetch() {
	local work
	work="$(mktemp -d "$CACHE/fetch.XXXXXX")"
	cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>live.greenroom.ci</groupId>
  <artifactId>dynamodb-local-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>com.amazonaws</groupId>
      <artifactId>DynamoDBLocal</artifactId>
      <version>$VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
	if ! mvn -B -q -f "$work/pom.xml" \
		org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$work/lib" >"$work/mvn.log" 2>&1; then
		tail -n 30 "$work/mvn.log" >&2
		rm -rf "$work"
		return 1
	fi
	# sqlite4java looks for libsqlite4java-linux-amd64.so (with or without
	# the version) on its library path.
	local so
	so="$(find "$work/lib" -name 'libsqlite4java-linux-amd64*.so' | head -n1)"
	if [[ -z "$so" ]]; then
		log "no libsqlite4java-linux-amd64 in the download"
		rm -rf "$work"
		return 1
	fi
	cp "$so" "$work/lib/libsqlite4java-linux-amd64.so"
	if ! ls "$work/lib"/DynamoDBLocal-*.jar >/dev/null 2>&1; then
		log "no DynamoDBLocal jar in the download"
		rm -rf "$work"
		return 1
	fi
	rm -rf "$LIB_DIR"
	mkdir -p "$HOME_DIR"
	mv "$work/lib" "$LIB_DIR"
	rm -rf "$work"
	touch "$HOME_DIR/.installed"
}

install() {
	need java openjdk-17-jre-headless
	[[ -f "$HOME_DIR/.installed" ]] && return 0
	need mvn maven
	mkdir -p "$CACHE"
	log "fetching com.amazonaws:DynamoDBLocal:$VERSION from Maven Central"
	if ! fetch; then
		log "fetch failed; retrying once"
		fetch || die "could not fetch DynamoDB Local $VERSION"
	fi
}

# free_port asks the kernel for an unused port on 127.0.0.1.
free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
		return
	fi
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

# answers reports whether an HTTP server answers on the endpoint. DynamoDB
# Local replies 400 to an unsigned request, which is enough.
answers() {
	local code
	code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true)"
	[[ -n "$code" && "$code" != "000" ]]
}

# start_in starts one instance whose pid, port, endpoint and log live in the
# directory $1, and prints the endpoint once it answers.
start_in() {
	local dir="$1"
	install
	need curl curl
	mkdir -p "$dir"
	if [[ -f "$dir/pid" ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
		cat "$dir/endpoint"
		return 0
	fi
	local attempt port pid endpoint deadline
	for attempt in 1 2 3; do
		port="$(free_port)"
		endpoint="http://127.0.0.1:$port"
		# DynamoDB Local has no option to choose the listening address; it
		# listens on every interface of the port. -disableTelemetry keeps it
		# from trying to reach the network.
		(
			cd "$dir"
			exec java -Xmx512m \
				-Djava.library.path="$LIB_DIR" \
				-Dsqlite4java.library.path="$LIB_DIR" \
				-cp "$LIB_DIR/*" "$MAIN_CLASS" \
				-inMemory -sharedDb -disableTelemetry -port "$port"
		) >"$dir/log" 2>&1 </dev/null &
		pid=$!
		echo "$pid" >"$dir/pid"
		echo "$port" >"$dir/port"
		echo "$endpoint" >"$dir/endpoint"
		deadline=$((SECONDS + START_TIMEOUT))
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
			if answers "$endpoint"; then
				log "listening on $endpoint (pid $pid, log $dir/log)"
				echo "$endpoint"
				return 0
			fi
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			log "did not answer within ${START_TIMEOUT}s (attempt $attempt); log:"
		else
			wait "$pid" 2>/dev/null || true
			log "exited before answering (attempt $attempt); log:"
		fi
		tail -n 20 "$dir/log" >&2 || true
		rm -f "$dir/pid" "$dir/endpoint" "$dir/port"
	done
	die "could not start DynamoDB Local"
}

stop_in() {
	local dir="$1" pid
	[[ -f "$dir/pid" ]] || return 0
	pid="$(cat "$dir/pid")"
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		local deadline=$((SECONDS + 15))
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$dir/pid" "$dir/endpoint" "$dir/port"
}

run() {
	[[ "${1:-}" == "--" ]] && shift
	(($# > 0)) || die "usage: $0 run -- CMD..."
	mkdir -p "$CACHE"
	# A private state directory lets several runs, and a started instance,
	# live side by side. It is a global so that the EXIT trap, which runs
	# after this function returns, still sees it.
	RUN_DIR="$(mktemp -d "$CACHE/run.XXXXXX")"
	trap 'stop_in "$RUN_DIR"; rm -rf "$RUN_DIR"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	local endpoint status=0
	endpoint="$(start_in "$RUN_DIR")"
	GREENROOM_DYNAMODB_ENDPOINT="$endpoint" "$@" || status=$?
	return "$status"
}

case "${1:-}" in
install) install ;;
start) start_in "$STATE_DIR" ;;
stop) stop_in "$STATE_DIR" ;;
run)
	shift
	run "$@"
	;;
*)
	echo "usage: $0 install | start | stop | run -- CMD..." >&2
	exit 2
	;;
esac
