# attestctl token verify/decode on the real MAA tokens (driven by INDEX.json), plus tampered
# tokens, a stale clock, a wrong issuer, a key set without the kid, and command-line errors.
: "${TESTDATA:?run through make check}"
ATTESTCTL=${ATTESTCTL:-$top_builddir/attestctl}
MAA="$TESTDATA/maa/2022-05-31"
[ -x "$ATTESTCTL" ] || skip "attestctl not built"
PYTHON3=${PYTHON3:-python3}
command -v "$PYTHON3" >/dev/null 2>&1 || skip "python3 is needed to read INDEX.json"

# ctl ARGS...: runs attestctl; sets $rc, $out (stdout) and $err (stderr).
ctl() {
        rc=0
        out=$("$ATTESTCTL" "$@" 2>"$TEST_TMPDIR/stderr") || rc=$?
        err=$(cat "$TEST_TMPDIR/stderr")
}

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# One line per token: file alg kid iss iat exp jwks_file expect
"$PYTHON3" - "$MAA/INDEX.json" >"$TEST_TMPDIR/index.txt" <<'EOF'
import json, sys
for t in json.load(open(sys.argv[1]))["tokens"]:
    print(t["file"], t["alg"], t["kid"], t["iss"], t["iat"], t["exp"], t["jwks_file"] or "-", t["expect"])
EOF
n_valid=0 n_none=0
while read -r file alg kid iss iat exp jwks expect; do
        case "$expect" in
        valid-signature)
                ctl token verify --jwks "$MAA/$jwks" --issuer "$iss" --at "$iat" "$MAA/$file"
                assert_eq "$rc" 0 "$file verifies ($err)"
                assert_contains "$out" "valid, kid \"$kid\", iss $iss, expires $(iso "$exp")" "$file summary"
                n_valid=$((n_valid + 1))
                ;;
        reject-alg-none)
                ctl token verify --jwks "$MAA/jwks/aad.json" --issuer "$iss" --at "$iat" "$MAA/$file"
                assert_eq "$rc" 1 "$file (alg $alg) rejected"
                assert_contains "$err" 'alg "none" is not accepted (only RS256)' "$file reason"
                n_none=$((n_none + 1))
                ;;
        *) fail "unknown expectation $expect" ;;
        esac
done <"$TEST_TMPDIR/index.txt"
assert_eq "$n_valid" 54 "valid tokens checked"
assert_eq "$n_none" 6 "alg none tokens checked"

tok="$MAA/tokens/060_AttestTpm.jwt"
iss=https://cplarryoattestationaad.wus.attest.azure.net
at=1654037276

# The other instances serve the same key.
for j in isolated shared; do
        ctl token verify --jwks "$MAA/jwks/$j.json" --issuer "$iss" --at "$at" "$tok"
        assert_eq "$rc" 0 "verifies with jwks/$j.json ($err)"
done

# Lifetime of 060 is exactly one hour.
ctl token verify --jwks "$MAA/jwks/aad.json" --issuer "$iss/" --at "$at" --skew 0 "$tok"
assert_contains "$out" "(lifetime 1h)" "lifetime and trailing-slash issuer"

# Clock: after exp + skew, and before nbf - skew.
ctl token verify --jwks "$MAA/jwks/aad.json" --issuer "$iss" --at 1654040936 --skew 60 "$tok"
assert_eq "$rc" 1 "expired token"
assert_contains "$err" "token expired at 2022-05-31T23:47:56Z (now 2022-05-31T23:48:56Z, skew 60s)" "expiry reason"
ctl token verify --jwks "$MAA/jwks/aad.json" --issuer "$iss" --at 1654040935 --skew 1min "$tok"
assert_eq "$rc" 0 "within skew ($err)"
ctl token verify --jwks "$MAA/jwks/aad.json" --issuer "$iss" --at 1654037000 --skew 0 "$tok"
assert_eq "$rc" 1 "not yet valid"
assert_contains "$err" "token not valid before 2022-05-31T22:47:56Z" "nbf reason"
ctl token verify --jwks "$MAA/jwks/aad.json" --issuer "$iss" "$tok"
assert_eq "$rc" 1 "default clock is now, long after 2022"
assert_contains "$err" "token expired at" "now is used without --at"

# Wrong issuer.
ctl token verify --jwks "$MAA/jwks/aad.json" --issuer https://sharedwus.wus.attest.azure.net \
        --endpoint "$iss" --at "$at" "$tok"
assert_eq "$rc" 1 "wrong issuer"
assert_contains "$err" "iss \"$iss\" does not match endpoint \"https://sharedwus.wus.attest.azure.net\"" "issuer reason"

# jku pinned to the endpoint: with another endpoint the token's jku no longer matches.
ctl token verify --jwks "$MAA/jwks/aad.json" --issuer "$iss" --endpoint https://other.example --at "$at" "$tok"
assert_eq "$rc" 1 "jku outside the endpoint"
assert_contains "$err" "is not the pinned key set \"https://other.example/certs\"" "jku reason"

# A flipped signature character; and a trailing newline (as 'echo' writes) is fine.
"$PYTHON3" - "$tok" "$TEST_TMPDIR" <<'EOF'
import sys
t = open(sys.argv[1]).read()
i = len(t) - 100
open(sys.argv[2] + "/flipped.jwt", "w").write(t[:i] + ("B" if t[i] == "A" else "A") + t[i + 1:])
open(sys.argv[2] + "/newline.jwt", "w").write(t + "\n")
EOF
ctl token verify --jwks "$MAA/jwks/aad.json" --issuer "$iss" --at "$at" "$TEST_TMPDIR/flipped.jwt"
assert_eq "$rc" 1 "flipped signature"
assert_contains "$err" "signature does not verify" "signature reason"
ctl token verify --jwks "$MAA/jwks/aad.json" --issuer "$iss" --at "$at" "$TEST_TMPDIR/newline.jwt"
assert_eq "$rc" 0 "token file with trailing newline ($err)"

# A key set without the token's kid.
"$PYTHON3" - "$MAA/jwks/aad.json" "$TEST_TMPDIR/nokid.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
j["keys"] = [k for k in j["keys"] if k["kid"] != "XxRc2vLh1E5FrsNawnRH3PzuFgqg3q7NvCdnjoJHBGE="]
json.dump(j, open(sys.argv[2], "w"))
EOF
ctl token verify --jwks "$TEST_TMPDIR/nokid.json" --issuer "$iss" --at "$at" "$tok"
assert_eq "$rc" 1 "kid missing from key set"
assert_contains "$err" 'kid "XxRc2vLh1E5FrsNawnRH3PzuFgqg3q7NvCdnjoJHBGE=" not in key set (2 keys)' "kid reason"

# A broken key set is reported as such.
printf '{"keys":{}}' >"$TEST_TMPDIR/bad.json"
ctl token verify --jwks "$TEST_TMPDIR/bad.json" --issuer "$iss" --at "$at" "$tok"
assert_eq "$rc" 1 "malformed key set"
assert_contains "$err" 'JWKS "keys" is a object, not an array' "key set reason"

# The issuer and skew can come from the configuration.
printf '[Service]\nEndpoint=%s\n' "$iss" >"$TEST_TMPDIR/attestd.conf"
rc=0
out=$("$ATTESTCTL" --config "$TEST_TMPDIR/attestd.conf" token verify --jwks "$MAA/jwks/aad.json" --at "$at" "$tok" 2>&1) || rc=$?
assert_eq "$rc" 0 "issuer from Endpoint= ($out)"

# decode: JSON on stdout, a clear NOT VERIFIED on stderr, even for alg none.
ctl token decode "$MAA/tokens/001_AttestWithDraftPolicy-OpenEnclave_Aad.jwt"
assert_eq "$rc" 0 "decode"
assert_contains "$err" "NOT VERIFIED" "decode warns"
printf '%s' "$out" | "$PYTHON3" -c 'import json,sys; d=json.load(sys.stdin); assert d["header"]["alg"]=="none" and "iss" in d["claims"]' ||
        fail "decode output is not the expected JSON"
printf 'not.a.token' >"$TEST_TMPDIR/garbage.jwt"
ctl token decode "$TEST_TMPDIR/garbage.jwt"
assert_eq "$rc" 1 "decode of garbage"
assert_contains "$err" "cannot decode" "decode reason"

# Command-line errors exit 2.
ctl token frobnicate extra
assert_eq "$rc" 2 "unknown command with arguments"
ctl token frobnicate
assert_eq "$rc" 2 "unknown command"
ctl token verify --issuer "$iss" "$tok"
assert_eq "$rc" 2 "missing --jwks"
ctl token verify --jwks "$MAA/jwks/aad.json" --issuer "$iss" --at yesterday "$tok"
assert_eq "$rc" 2 "bad --at"
ctl token verify --jwks "$MAA/jwks/aad.json" --issuer "$iss" "$tok" "$tok"
assert_eq "$rc" 2 "two token files"
ctl token verify --jwks "$TEST_TMPDIR/absent.json" --issuer "$iss" "$tok"
assert_eq "$rc" 1 "missing key set file"

echo "ok: token verify/decode on $n_valid valid and $n_none alg-none MAA tokens, and the rejections"
