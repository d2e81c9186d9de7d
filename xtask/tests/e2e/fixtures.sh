#!/bin/sh
# Builds the e2e base-image fixtures offline and pushes them, multi-arch, to a local registry:
#   REGISTRY/fixtures/nginx:clean   amd64 + arm64 nginx from Debian packages (amd64 really serves)
#   REGISTRY/fixtures/nginx:vuln    the same, but the arm64 image also carries `vulnpkg`, which
#                                   the test's trivy DB lists as HIGH
#   REGISTRY/fixtures/hugo:fixture  amd64: the host's hugo and its libraries, busybox for sh
# Usage: fixtures.sh REGISTRY DEBS_DIR WORK_DIR   (DEBS_DIR holds amd64/ and arm64/ .debs)
set -eu
registry=$1 debs=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work"

rootfs() { # arch dir
  arch=$1 dir=$2
  mkdir -p "$dir/etc/nginx/conf.d" "$dir/var/lib/dpkg" "$dir/usr/share/nginx/html" "$dir/tmp" "$dir/var/log/nginx"
  chmod 1777 "$dir/tmp"
  : > "$dir/var/lib/dpkg/status"
  for deb in "$debs/$arch"/*.deb; do
    dpkg-deb -x "$deb" "$dir"
    {
      dpkg-deb -f "$deb" Package Source Version Architecture
      echo "Status: install ok installed"
      echo
    } >> "$dir/var/lib/dpkg/status"
  done
  printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n' > "$dir/etc/os-release"
  echo "12.8" > "$dir/etc/debian_version"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnginx:x:101:101:nginx:/nonexistent:/sbin/nologin\n' > "$dir/etc/passwd"
  printf 'root:x:0:\nnginx:x:101:\n' > "$dir/etc/group"
  cp "$here/nginx.conf" "$dir/etc/nginx/nginx.conf"
}

rootfs amd64 "$work/rootfs-amd64"
rootfs arm64 "$work/rootfs-arm64"
cp -a "$work/rootfs-arm64" "$work/rootfs-arm64-vuln"
printf 'Package: vulnpkg\nSource: vulnpkg\nVersion: 1.0-1\nArchitecture: arm64\nStatus: install ok installed\n\n' \
  >> "$work/rootfs-arm64-vuln/var/lib/dpkg/status"

# Hugo: the host's binary with the libraries it links, and busybox for the build stage's RUN.
hugo_root="$work/rootfs-hugo"
mkdir -p "$hugo_root/usr/bin" "$hugo_root/bin" "$hugo_root/tmp"
chmod 1777 "$hugo_root/tmp"
cp "$(command -v hugo)" "$hugo_root/usr/bin/hugo"
for lib in $(ldd "$(command -v hugo)" | grep -o '/[^ ]*'); do
  mkdir -p "$hugo_root$(dirname "$lib")"
  cp -L "$lib" "$hugo_root$lib"
done
cp /bin/busybox "$hugo_root/bin/busybox"
for applet in sh find touch; do ln -s busybox "$hugo_root/bin/$applet"; done

cat > "$work/Containerfile.nginx" <<'CONTAINERFILE'
ARG VARIANT=""
FROM scratch
ARG TARGETARCH
ARG VARIANT
COPY rootfs-${TARGETARCH}${VARIANT}/ /
USER 101
EXPOSE 8080
ENTRYPOINT ["/usr/sbin/nginx", "-g", "daemon off;"]
CONTAINERFILE
printf 'FROM scratch\nCOPY rootfs-hugo/ /\nENV PATH=/usr/bin:/bin\n' > "$work/Containerfile.hugo"

push_manifest() { # name ref
  podman manifest push --all --quiet "$1" "docker://$2" >/dev/null
}

podman manifest rm fixture-nginx-clean fixture-nginx-vuln >/dev/null 2>&1 || true
podman build --quiet --platform linux/amd64,linux/arm64 --build-arg VARIANT= --manifest fixture-nginx-clean \
  -f "$work/Containerfile.nginx" "$work" >/dev/null
push_manifest fixture-nginx-clean "$registry/fixtures/nginx:clean"

# The vulnerable variant: amd64 clean, arm64 with vulnpkg.
podman build --quiet --platform linux/amd64 --build-arg VARIANT= --manifest fixture-nginx-vuln -f "$work/Containerfile.nginx" "$work" >/dev/null
podman build --quiet --platform linux/arm64 --build-arg VARIANT=-vuln --manifest fixture-nginx-vuln \
  -f "$work/Containerfile.nginx" "$work" >/dev/null
push_manifest fixture-nginx-vuln "$registry/fixtures/nginx:vuln"

podman build --quiet --platform linux/amd64 -t fixture-hugo -f "$work/Containerfile.hugo" "$work" >/dev/null
podman push --quiet fixture-hugo "docker://$registry/fixtures/hugo:fixture" >/dev/null
echo "fixtures pushed to $registry/fixtures"
