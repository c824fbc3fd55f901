# Shared helpers of the system tests: TAP-like checks and a closing "N passed, N failed".
# Source it; call `finish` last.
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }

# check "description" command...: passes when the command exits 0.
check() {
  local what=$1; shift
  local out
  if out=$("$@" 2>&1); then ok "$what"; else not_ok "$what"; echo "$out" | sed 's/^/    /' | tail -15; fi
}

# check_output "description" "regex" command...: passes when the output matches.
check_output() {
  local what=$1 pattern=$2; shift 2
  local out
  out=$("$@" 2>&1)
  if echo "$out" | grep -Eq -- "$pattern"; then ok "$what"; else not_ok "$what (wanted /$pattern/)"; echo "$out" | sed 's/^/    /' | tail -15; fi
}

# check_fails "description" "regex" command...: passes when the command fails and says so.
check_fails() {
  local what=$1 pattern=$2; shift 2
  local out
  if out=$("$@" 2>&1); then not_ok "$what (it succeeded)"; echo "$out" | sed 's/^/    /' | tail -5; return; fi
  if echo "$out" | grep -Eq -- "$pattern"; then ok "$what"; else not_ok "$what (wanted /$pattern/)"; echo "$out" | sed 's/^/    /' | tail -5; fi
}

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
