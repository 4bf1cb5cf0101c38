#!/usr/bin/env bash
# Make sure the engine has a busybox:latest image. If it is missing, build one from Debian's
# busybox-static: a rootfs with /bin/busybox and one symlink per applet, imported with
# `docker import`. Nothing is pulled from a registry.
set -euo pipefail

image=busybox:latest
say() { printf 'busybox-image: %s\n' "$*" >&2; }

if docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi

bb=/bin/busybox
[ -x "$bb" ] || bb=$(command -v busybox || true)
if [ -z "$bb" ] || ! "$bb" --list >/dev/null 2>&1; then
  say "no busybox binary (install busybox-static: spec/support/setup.sh)"
  exit 1
fi
if ldd "$bb" >/dev/null 2>&1; then
  say "$bb is dynamically linked; the image needs the static one from busybox-static"
  exit 1
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/dpty-busybox.XXXXXX")
trap 'rm -rf "$root"' EXIT

say "building $image from $bb"
mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/tmp"
chmod 1777 "$root/tmp"
chmod 700 "$root/root"
cp "$bb" "$root/bin/busybox"
chmod 755 "$root/bin/busybox"
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

tar --numeric-owner --owner=0 --group=0 -C "$root" -c . |
  docker import -c 'CMD ["sh"]' - "$image" >/dev/null

if ! out=$(docker run --rm --network none "$image" true 2>&1); then
  say "the new image does not run: $out"
  exit 1
fi
say "$image is ready"
