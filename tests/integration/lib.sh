# Shared by the integration shell tests (sourced).

# A port nobody listens on now (another process may take it before use:
# callers retry on "in use").
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((RANDOM % 20000 + 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}
