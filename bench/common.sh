# Shared by bench/run.sh and bench/guard.sh (sourced, not run).
# Needs: ROOT (repo root), WORK (a private temp dir), set -euo pipefail.

# The request body herohealth sends for the bench message (the curl command posts it).
REQUEST_JSON='{"patient_id":"4242001","message_type":"sms","message_string":"Dear patient, your blood test results are back and are normal. No further action is needed. If you have any questions, call Riverside Surgery on 0161 496 0000.","recipient_contact_detail":"07700 900123","write_to_record":true,"snomed_code":"185317003"}'

# The 200 reply: all 9 fields of Hero's Send a Message response.
REPLY_JSON='{"message_id":"6a1c2f1e-0b7d-4c1e-9a43-2f2b8d5e7c10","content":"Dear patient, your blood test results are back and are normal. No further action is needed. If you have any questions, call Riverside Surgery on 0161 496 0000.","created_at":"2026-11-25T10:00:00Z","snomed_code":"185317003","write_to_record":true,"auth_token":"tok_4f1e2d3c4b5a69788796a5b4c3d2e1f0","confirm_write_to_record_url":"https://app.herohealth.net/messages/6a1c2f1e/confirm","submitted_by":"Bench Practice","send_at":"2026-11-25T10:00:00Z"}'

# Short and long callgrind runs; (long - short) / (LONG - SHORT) cancels
# start-up (client creation, first connection, TLS handshake, exit).
CG_SHORT=${CG_SHORT:-200}
CG_LONG=${CG_LONG:-2000}

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# install_or_die WHAT PKG: apt-get install PKG when running as root;
# otherwise fail saying what to install. Never skips silently.
install_or_die() {
    local what=$1 pkg=$2
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "$what missing: apt-get install -y $pkg"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >&2 ||
            { DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >&2; } ||
            die "could not install $pkg"
    else
        die "$what is not installed and this is not root: run 'sudo apt-get install -y $pkg' first"
    fi
}

# need CMD PKG: CMD on PATH (or in /usr/sbin), else install PKG.
need() {
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || install_or_die "$1" "$2"
}

# need_header HEADER PKG: the same for a development header.
need_header() {
    [ -e "/usr/include/$1" ] || install_or_die "/usr/include/$1" "$2"
}

nginx_bin() { command -v nginx 2>/dev/null || echo /usr/sbin/nginx; }

# A free TCP port on 127.0.0.1 (nothing answers on it right now).
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    die "no free port found"
}

# Self-signed CA and a server certificate for 127.0.0.1, made now.
make_certs() {
    local d=$WORK/tls
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=herohealth bench CA" -keyout "$d/ca.key" -out "$d/ca.pem" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=127.0.0.1" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$d/ext.cnf"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null
    CA_FILE=$d/ca.pem
}

# Starts nginx (as the current user, everything under $WORK/nginx) answering
# POST /v1/messages/send with REPLY_JSON over HTTP and HTTPS. Sets HTTP_URL,
# HTTPS_URL. stop_nginx stops it (by its own pid file).
start_nginx() {
    local n=$WORK/nginx user_line=""
    mkdir -p "$n/logs" "$n/tmp"
    printf '%s' "$REPLY_JSON" >"$n/reply.json"
    # As root the workers would otherwise switch to "nobody": stay the current user.
    [ "$(id -u)" = 0 ] && user_line="user $(id -un) $(id -gn);"
    for _ in 1 2 3 4 5; do
        HTTP_PORT=$(free_port)
        HTTPS_PORT=$(free_port)
        [ "$HTTP_PORT" != "$HTTPS_PORT" ] || continue
        cat >"$n/nginx.conf" <<CONF
$user_line
worker_processes 2;
pid $n/nginx.pid;
error_log $n/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $n/tmp/body;
    proxy_temp_path $n/tmp/proxy;
    fastcgi_temp_path $n/tmp/fastcgi;
    uwsgi_temp_path $n/tmp/uwsgi;
    scgi_temp_path $n/tmp/scgi;
    keepalive_requests 1000000000;
    keepalive_timeout 600s;
    server {
        listen 127.0.0.1:$HTTP_PORT reuseport;
        listen 127.0.0.1:$HTTPS_PORT ssl reuseport;
        ssl_certificate $WORK/tls/server.pem;
        ssl_certificate_key $WORK/tls/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location = /v1/messages/send {
            default_type application/json;
            return 200 '$REPLY_JSON';
        }
        location / { return 404; }
    }
}
CONF
        if "$(nginx_bin)" -p "$n" -c "$n/nginx.conf" -e "$n/logs/error.log" 2>"$n/start.err"; then
            NGINX_PID_FILE=$n/nginx.pid
            HTTP_URL=http://127.0.0.1:$HTTP_PORT
            HTTPS_URL=https://127.0.0.1:$HTTPS_PORT
            local i
            for i in $(seq 1 50); do
                (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && return 0
                sleep 0.1
            done
            die "nginx started but does not answer: $(cat "$n/logs/error.log")"
        fi
    done
    die "nginx failed to start: $(cat "$n/start.err")"
}

stop_nginx() {
    if [ -n "${NGINX_PID_FILE:-}" ] && [ -s "$NGINX_PID_FILE" ]; then
        local pid
        pid=$(cat "$NGINX_PID_FILE")
        kill -QUIT "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    NGINX_PID_FILE=
}

# Builds target/release/libherohealth.a (and .so) and the C sender.
build_hero_c() {
    say "cargo build --release --lib"
    (cd "$ROOT" && cargo build --release --lib --quiet) >&2
    mkdir -p "$BIN"
    # Native libraries a Rust staticlib needs (glibc: these suffice).
    cc -O2 -g -Wall -I"$ROOT/include" -I"$ROOT/bench" -o "$BIN/send_hero" "$ROOT/bench/send_hero.c" \
        "$ROOT/target/release/libherohealth.a" -lpthread -ldl -lm -lgcc_s -lc
}

build_curl_peer() {
    mkdir -p "$BIN"
    cc -O2 -g -Wall -I"$ROOT/bench" -o "$BIN/send_curl" "$ROOT/bench/send_curl.c" -lcurl -lcjson -lpthread
}

build_rust() {
    say "cargo build --release (bench/rust)"
    # Same dependency versions as the library ships with.
    cp "$ROOT/Cargo.lock" "$ROOT/bench/rust/Cargo.lock"
    (cd "$ROOT/bench/rust" && CARGO_TARGET_DIR="$ROOT/target/bench-rust" cargo build --release --quiet) >&2
    mkdir -p "$BIN"
    cp "$ROOT/target/bench-rust/release/send_rust" "$BIN/send_rust"
}

# kv LINE KEY: the value of KEY=... in a sender's output line.
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | awk 'NR == 1'; }

# callgrind_ir OUTFILE CMD...: total instructions (Ir) of one run of CMD.
# Dies when callgrind wrote no positive count: a missing figure must fail the
# caller, not read as 0.
callgrind_ir() {
    local out=$1 ir
    shift
    valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >"$out.stdout" 2>"$out.log" ||
        die "callgrind run failed: $* ($(tail -3 "$out.log"))"
    ir=$(sed -n 's/^summary: *//p; s/^totals: *//p' "$out" 2>/dev/null | awk 'NR == 1 {print $1}')
    case $ir in
    '' | *[!0-9]* | 0) die "callgrind wrote no instruction count to $out (got '${ir}'): $*" ;;
    esac
    echo "$ir"
}

# ir_per_send TAG CMD_PREFIX...: runs CMD_PREFIX with CG_SHORT and CG_LONG
# sends appended as "URL SENDS 1 CA" by the caller's wrapper; prints the
# per-send figure (integer).
ir_per_send() {
    local tag=$1 url=$2 ca=$3
    shift 3
    local a b
    a=$(callgrind_ir "$WORK/cg.$tag.short" "$@" "$url" "$CG_SHORT" 1 "$ca") || exit 1
    b=$(callgrind_ir "$WORK/cg.$tag.long" "$@" "$url" "$CG_LONG" 1 "$ca") || exit 1
    [ "$b" -gt "$a" ] || die "callgrind: $CG_LONG sends counted $b instructions, $CG_SHORT sends $a: not a measurement"
    echo $(((b - a) / (CG_LONG - CG_SHORT)))
}
