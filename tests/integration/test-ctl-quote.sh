# attestctl quote --output-dir writes its files without following symbolic links: a link in place
# of the directory is refused, a link (or file) in place of a file is replaced, never written through.
start_swtpm
quote() { "$ATTESTCTL" quote --tcti "$ATTEST_TCTI" --pcrs 0-7 --nonce 0011223344 "$@"; }
files="quote.bin sig.bin pcrs.bin pcrs.values ak.pub ak.pub.pem"

out="$TEST_TMPDIR/q"
quote -o "$out" >/dev/null || fail "quote -o failed"
for f in $files; do [ -s "$out/$f" ] || fail "$f missing or empty"; done
quote -o "$out" >/dev/null || fail "a second quote into the same directory failed"
tpm2_checkquote -u "$out/ak.pub.pem" -m "$out/quote.bin" -s "$out/sig.bin" -f "$out/pcrs.bin" \
        -q 0011223344 >/dev/null || fail "tpm2_checkquote refuses the files"

# The directory is a symbolic link: refused, nothing written where it points.
mkdir "$TEST_TMPDIR/victim-dir"
ln -s "$TEST_TMPDIR/victim-dir" "$TEST_TMPDIR/link"
if err=$(quote -o "$TEST_TMPDIR/link" 2>&1 >/dev/null); then fail "quote into a symlinked directory succeeded"; fi
assert_contains "$err" "is a symbolic link" "error for a symlinked directory"
[ -z "$(ls -A "$TEST_TMPDIR/victim-dir")" ] || fail "files were written through the directory link"

# A file name is a symbolic link (or a hard link) to a file elsewhere: replaced, the target untouched.
echo precious >"$TEST_TMPDIR/victim-file"
echo precious >"$TEST_TMPDIR/victim-hard"
ln -sf "$TEST_TMPDIR/victim-file" "$out/quote.bin"
ln -f "$TEST_TMPDIR/victim-hard" "$out/sig.bin"
quote -o "$out" >/dev/null || fail "quote over planted links failed"
assert_eq "$(cat "$TEST_TMPDIR/victim-file")" precious "target of the symlink"
assert_eq "$(cat "$TEST_TMPDIR/victim-hard")" precious "target of the hard link"
[ -f "$out/quote.bin" ] && [ ! -L "$out/quote.bin" ] || fail "quote.bin is not a regular file"
ls -A "$out" | grep -q '^\.' && fail "a temporary file was left behind"

# Not a directory at all.
if err=$(quote -o "$TEST_TMPDIR/victim-file" 2>&1 >/dev/null); then fail "quote into a regular file succeeded"; fi
assert_contains "$err" "not a directory" "error for a regular file"
echo "ok: output directory links refused, file links replaced"
