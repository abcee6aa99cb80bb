#!/bin/sh
# quickstart.sh: start hero-mock on a free port, send one SMS to it with
# build/hero_send, print Hero's JSON reply, and stop the mock (also on
# failure or Ctrl-C). Run by `make -C examples-c quickstart`, which builds
# both programs first. Exits with hero_send's exit code.
set -u

MOCK=${MOCK:-../target/release/hero-mock}
HERO_SEND=${HERO_SEND:-build/hero_send}
DEMO_KEY=demo-key
DEMO_GROUP=demo-group

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hero-quickstart.XXXXXX") || exit 1
mock_pid=

cleanup() {
    if [ -n "$mock_pid" ]; then
        kill "$mock_pid" 2>/dev/null
        wait "$mock_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$MOCK" --port 0 --api-key "$DEMO_KEY" --practice-group-id "$DEMO_GROUP" \
    >"$tmp/mock.out" 2>"$tmp/mock.log" &
mock_pid=$!

# The mock prints its address once it is listening.
base_url=
tries=0
while [ -z "$base_url" ]; do
    base_url=$(sed -n 's/^hero-mock listening on //p' "$tmp/mock.out")
    [ -n "$base_url" ] && break
    if ! kill -0 "$mock_pid" 2>/dev/null || [ "$tries" -ge 100 ]; then
        echo "quickstart: hero-mock did not start:" >&2
        cat "$tmp/mock.log" >&2
        exit 1
    fi
    tries=$((tries + 1))
    sleep 0.1 2>/dev/null || sleep 1
done
echo "quickstart: hero-mock listening on $base_url"

echo "quickstart: $HERO_SEND --patient-id 4242 --type sms --recipient '07700 900123' --write-to-record --message '...'"

unset HERO_ENVIRONMENT HERO_CA_FILE
HERO_BASE_URL=$base_url HERO_API_KEY=$DEMO_KEY HERO_PRACTICE_GROUP_ID=$DEMO_GROUP \
    "$HERO_SEND" --patient-id 4242 --type sms --recipient "07700 900123" --write-to-record \
    --message "Your flu vaccination is due. Please book at reception."
status=$?
if [ "$status" -eq 0 ]; then
    echo "quickstart: sent (exit 0); the JSON above is the mock's reply"
else
    echo "quickstart: hero_send failed with exit code $status" >&2
fi
exit "$status"
