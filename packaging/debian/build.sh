#!/bin/sh
# Builds the custos Debian package from a built binary, with dpkg-deb alone (no debhelper):
#   packaging/debian/build.sh BINARY OUT_DIR
# prints the path of the .deb it wrote. The version is the workspace's (Cargo.toml), the
# architecture the build machine's.
set -eu

if [ $# -ne 2 ]; then
  echo "usage: $0 BINARY OUT_DIR" >&2
  exit 2
fi
binary=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[ -x "$binary" ] || { echo "$binary is not an executable file" >&2; exit 2; }
mkdir -p "$out"

# The first `version = "…"` of [workspace.package].
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' "$repo/Cargo.toml" | head -n 1)
[ -n "$version" ] || { echo "no version in $repo/Cargo.toml [workspace.package]" >&2; exit 1; }
arch=$(dpkg --print-architecture)

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
install -D -m 0755 "$binary" "$root/usr/bin/custos"
# Debian ships binaries without debugging symbols (and a debug build shrinks tenfold).
strip --strip-unneeded "$root/usr/bin/custos"
install -D -m 0644 "$here/custos.service" "$root/usr/lib/systemd/system/custos.service"
install -D -m 0640 "$here/custos.toml" "$root/etc/custos/custos.toml"
install -D -m 0640 "$here/policy.toml" "$root/etc/custos/policy.toml"
doc=$root/usr/share/doc/custos
install -D -m 0644 "$here/copyright" "$doc/copyright"
install -D -m 0644 "$repo/docs/operations.md" "$doc/operations.md"
install -D -m 0644 "$repo/packaging/nginx/custos.conf" "$doc/nginx/custos.conf"
for p in "$repo"/examples/policies/*.toml; do
  install -D -m 0644 "$p" "$doc/examples/$(basename "$p")"
done

install -d -m 0755 "$root/DEBIAN"
for s in postinst prerm postrm; do
  install -m 0755 "$here/$s" "$root/DEBIAN/$s"
done
printf '%s\n' /etc/custos/custos.toml /etc/custos/policy.toml >"$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: custos
Version: $version
Architecture: $arch
Maintainer: Custos maintainers <maintainers@custos.dev>
Installed-Size: $size
Depends: adduser, libc6 (>= 2.34), libgcc-s1, util-linux
Section: admin
Priority: optional
Homepage: https://custos.dev
Description: privacy engine: a GDPR policy checked, published and enforced
 Custos turns a company's processing of personal data, written once as a
 policy file, into a GDPR check, a public privacy statement and an HTTP
 service that enforces it: encrypted storage, retention purges,
 data-subject requests with their legal deadlines, consent and a
 tamper-evident audit trail.
 .
 This package installs the custos binary and a hardened systemd service
 that runs it as its own user with its state in /var/lib/custos and its
 configuration in /etc/custos.
CONTROL

deb="$out/custos_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zgzip --build "$root" "$deb" >/dev/null
echo "$deb"
