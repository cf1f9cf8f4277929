# Shared by the check scripts (sourced, not run).

# A clean environment: what a fresh shell on this machine would have, nothing
# the caller exported (AUDIAN_WEBHOOK_SECRET, AUDIAN_BRIDGE_CONFIG, PORT, ...).
# Usage: clean_env [NAME=value ...] command...
# In the background use "${CLEAN_ENV[@]}" ... & instead: env execs the command,
# so $! is the command's own pid (a backgrounded function would be a subshell).
CLEAN_ENV=(env -i PATH="$PATH" HOME="${HOME:-/tmp}" TMPDIR="${TMPDIR:-/tmp}" LANG="${LANG:-C.UTF-8}"
  ${npm_config_nodedir:+npm_config_nodedir="$npm_config_nodedir"})
clean_env() { "${CLEAN_ENV[@]}" "$@"; }

# Copies what git would ship (tracked and unignored files), minus .dockerignore's
# entries, from the repository to DEST.
copy_build_context() {
  local repo="$1" dest="$2"
  mkdir -p "$dest"
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard) \
    | (cd "$repo" && xargs -0 -I{} sh -c 'test -e "{}" && echo "{}"') \
    | grep -vE '^(node_modules|dist|data|\.cache|coverage)(/|$)' \
    | (cd "$repo" && tar -cf - -T -) | tar -xf - -C "$dest"
}

# A TCP port nothing listens on right now.
free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}
