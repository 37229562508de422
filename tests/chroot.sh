#!/usr/bin/env bash
# A Debian root file system to build and test in, entered with chroot: how
# auxgrid is tested against another distribution's packages (Debian 13's
# LibTorch 2.6) without mixing them into this system. Sourced by
# tests/libtorch2.sh and launchers/gpu/rehearse.sh.
#
#   make_root DIR SUITE PACKAGE...   DIR becomes a SUITE root with PACKAGE... installed;
#                                    kept and reused while the list is the same
#   in_root DIR REPO COMMAND...      runs COMMAND in DIR with REPO at /auxgrid, in a
#                                    private mount namespace: every mount (proc, sys,
#                                    /dev/shm, the repository) ends with the command,
#                                    so no `rm -rf DIR` can reach through one.
#
# A root is made by mmdebstrap (installed with apt-get when missing) from the
# mirror this system's apt uses, and kept as a tarball in $AUXGRID_ROOT_CACHE
# (default: .cache/roots in the repository, ignored by git), so that a wiped
# build folder costs an unpack, not a download.

debian_mirror() {
  [ -n "${AUXGRID_DEBIAN_MIRROR:-}" ] && { echo "$AUXGRID_DEBIAN_MIRROR"; return; }
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n 1)
  [ -n "$uri" ] || uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n 1)
  [ -n "$uri" ] || { echo "chroot.sh: no Debian mirror in this system's apt sources; set AUXGRID_DEBIAN_MIRROR" >&2; return 1; }
  echo "$uri"
}

make_root() {
  local dir=$1 suite=$2; shift 2
  local list stamp cache tarball
  list="$suite $(printf '%s\n' "$@" | sort | tr '\n' ' ')"
  stamp="$dir/.auxgrid-root"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$list" ]; then
    echo "root: $dir ($suite) is ready"
    return
  fi
  cache=${AUXGRID_ROOT_CACHE:-$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)/.cache/roots}
  tarball="$cache/$suite-$(echo "$list" | md5sum | cut -c1-12).tar"
  mkdir -p "$cache"
  if [ ! -f "$tarball" ]; then
    command -v mmdebstrap >/dev/null || {
      echo "root: installing mmdebstrap"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
    }
    local mirror
    mirror=$(debian_mirror)
    echo "root: mmdebstrap $suite with $# packages from $mirror"
    mmdebstrap --quiet --variant=apt --format=tar --include="$(IFS=,; echo "$*")" \
      "$suite" "$tarball.part" "deb $mirror $suite main"
    mv "$tarball.part" "$tarball"
  fi
  echo "root: unpacking $(basename "$tarball") ($(du -m "$tarball" | cut -f1) MiB) into $dir"
  rm -rf "$dir" && mkdir -p "$dir"
  tar -xf "$tarball" -C "$dir"
  echo "$list" > "$stamp"
}

in_root() {
  local dir=$1 repo=$2; shift 2
  # The mounts live in a mount namespace of their own and end with it.
  unshare --mount --propagation private /bin/bash -euo pipefail -c '
    dir=$1 repo=$2; shift 2
    mount -t proc proc "$dir/proc"
    mount -t sysfs sys "$dir/sys"
    mount -t tmpfs -o mode=1777 shm "$dir/dev/shm"
    mount -t tmpfs -o mode=1777 tmp "$dir/tmp"
    mkdir -p "$dir/auxgrid"
    mount --bind "$repo" "$dir/auxgrid"
    exec chroot "$dir" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
      LANG=C.UTF-8 TERM="${TERM:-dumb}" CI="${CI:-}" "$@"
  ' in_root "$dir" "$repo" "$@"
}
