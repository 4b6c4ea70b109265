# A fresh swtpm per test answers through tss2 (tpm2-tools): random bytes, PCR reads, an extend
# that changes a PCR, and a simulated reboot that resets it.
need_cmd tpm2_getrandom tpm2_pcrread tpm2_pcrextend tpm2_startup
start_swtpm

r=$(tpm2_getrandom --hex 16) || fail "GetRandom"
[ ${#r} -eq 32 ] || fail "GetRandom returned '$r'"

zero=0000000000000000000000000000000000000000000000000000000000000000
before=$(pcr_value sha256 14)
assert_eq "$before" "$zero" "PCR 14 at start"

digest=$(printf 'attestd' | sha256sum | cut -d' ' -f1)
tpm2_pcrextend "14:sha256=$digest" || fail "extend"
expected=$(/usr/bin/python3 -c 'import hashlib, sys; print(hashlib.sha256(bytes.fromhex(sys.argv[1])).hexdigest())' "$zero$digest")
after=$(pcr_value sha256 14)
assert_eq "$after" "$expected" "PCR 14 after extend"

reboot_swtpm
again=$(pcr_value sha256 14)
assert_eq "$again" "$zero" "PCR 14 after reboot"
echo "ok: swtpm answers GetRandom and PCR read/extend, reboot resets PCRs"
