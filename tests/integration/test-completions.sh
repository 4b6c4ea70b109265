# The bash completions offer attestctl's verbs and options and attestd's options, and every verb
# attestctl knows is offered (so a new verb gets a completion).
complete_words() { # SCRIPT WORDS... (the last word is the one completed)
        bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); ${fn} ; printf "%s\n" "${COMPREPLY[@]}"' \
                complete "$@"
}
fn=_attestctl; export fn
verbs=$("$ATTESTCTL" --help | sed -n '/^Verbs:/,/^$/p' | awk 'NF > 1 { print $1 }')
[ -n "$verbs" ] || fail "no verbs in attestctl --help"
got=$(complete_words "$top_srcdir/completions/bash/attestctl" attestctl "")
for v in $verbs; do
        printf '%s\n' "$got" | grep -qx "$v" || fail "bash completion lacks verb $v"
done
got=$(complete_words "$top_srcdir/completions/bash/attestctl" attestctl --debug quote --no)
assert_contains "$got" "--nonce" "options of the verb after global options"
got=$(complete_words "$top_srcdir/completions/bash/attestctl" attestctl --json=s)
assert_eq "$got" "short" "--json modes"
fn=_attestd
got=$(complete_words "$top_srcdir/completions/bash/attestd" attestd --te)
assert_eq "$got" "--test-config" "attestd options"
for f in "$top_srcdir"/completions/zsh/_*; do
        head -n1 "$f" | grep -q "^#compdef " || fail "$f has no #compdef line"
done
echo "ok: bash completions cover every verb"
