# A token left in the runtime directory is served after a restart only when it verifies as a new
# one would (signature against the key set cached with it, iss, times) and the directory is
# attestd's alone. Regressions: the old code served alg:none and badly signed tokens after decoding
# them, crashed on '"endpoint": null' in token.json at every start, and used a world-writable dir.
setup_attestation
start_system_bus
start_attestd
wait_state attested
cp "$RUNDIR/token" "$TEST_TMPDIR/good-token"
cp "$RUNDIR/token.json" "$TEST_TMPDIR/good-token.json"
stop_attestd
maa_ctl fault refuse >/dev/null # nothing new to be had: only the cache can make it attested

# restart_with_cache WHAT: put the good files back, spoil them with the python in $2, restart,
# and expect the cached token refused with a journal line, its files removed, State failed.
restart_with_cache() {
        cp "$TEST_TMPDIR/good-token" "$RUNDIR/token"
        cp "$TEST_TMPDIR/good-token.json" "$RUNDIR/token.json"
        /usr/bin/python3 - "$RUNDIR/token" "$RUNDIR/token.json" <<PY || fail "spoiling: $1"
import base64, json, sys
tok = open(sys.argv[1]).read()
d = json.load(open(sys.argv[2]))
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
h, p, s = tok.split(".")
$2
open(sys.argv[1], "w").write(tok)
json.dump(d, open(sys.argv[2], "w"))
PY
        : >"$TEST_TMPDIR/attestd.log"
        start_attestd
        wait_state failed 10
        [ ! -e "$RUNDIR/token" ] && [ ! -e "$RUNDIR/token.json" ] || fail "$1: the cached token was kept"
        grep -q "Not serving the cached token" "$TEST_TMPDIR/attestd.log" || fail "$1: no journal line saying why"
        check_token_files --settled
        stop_attestd
        echo "ok: $1 refused: $(grep -o 'Not serving the cached token.*' "$TEST_TMPDIR/attestd.log" | head -1)"
}

restart_with_cache 'endpoint null' 'd["endpoint"] = None'
restart_with_cache 'pcrs a string' 'd["pcrs"] = "x"'
restart_with_cache 'no key set' 'del d["jwks"]'
restart_with_cache 'alg none' 'tok = b64(b"{\"alg\":\"none\"}") + "." + p + "."'
restart_with_cache 'bad signature' 'tok = h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:]'
restart_with_cache 'foreign endpoint' 'd["endpoint"] = "https://attacker.example"'
restart_with_cache 'foreign issuer' 'c = json.loads(base64.urlsafe_b64decode(p + "==")); c["iss"] = "https://attacker.example"; tok = h + "." + b64(json.dumps(c).encode()) + "." + s'

# The good files, untouched, are served.
cp "$TEST_TMPDIR/good-token" "$RUNDIR/token"
cp "$TEST_TMPDIR/good-token.json" "$RUNDIR/token.json"
start_attestd
case "$(get_property State)" in attested | attesting | stale) ;; *) fail "good cache not served" ;; esac
cmp -s "$RUNDIR/token" "$TEST_TMPDIR/good-token" || fail "the served token is not the cached one"
stop_attestd
echo "ok: the untouched cache is served"

# A runtime directory others can write is refused outright.
chmod 0777 "$RUNDIR"
if "$ATTESTD" --config "$CONF" >"$TEST_TMPDIR/refused.log" 2>&1; then
        fail "attestd started with a world-writable runtime directory"
fi
grep -q "writable by group or others" "$TEST_TMPDIR/refused.log" || fail "no reason given: $(cat "$TEST_TMPDIR/refused.log")"
chmod 0755 "$RUNDIR"
echo "ok: a group/world-writable runtime directory is refused"
