# The man pages (man/ and the MAA emulator's) are well-formed: mandoc -Tlint reports no warnings
# or errors.
need_cmd mandoc
status=0
for page in "$top_srcdir"/man/*.[0-9] "$top_srcdir"/tests/maa-emulator/*.[0-9]; do
        out=$(mandoc -Tlint -W warning "$page" 2>&1) || true
        if [ -n "$out" ]; then
                echo "$out"
                status=1
        fi
done
[ $status -eq 0 ] || fail "mandoc -Tlint found problems"
echo "ok: $(ls "$top_srcdir"/man/*.[0-9] "$top_srcdir"/tests/maa-emulator/*.[0-9] | wc -l) man pages lint clean"
