# shellcheck shell=bash
# Tools for bouture-multiboot's build, switch and boot tests.
#
# `bouture deploy build` shells out to sfdisk (fdisk), mkfs.ext4/debugfs/e2fsck
# (e2fsprogs), grub-mkimage and GRUB's i386-pc modules (grub-common,
# grub-pc-bin), qemu-img (qemu-utils), mkfs.fat (dosfstools) and mtools for
# vfat volumes, mkfs.xfs (xfsprogs) for xfs data volumes. The boot test runs qemu-system-x86_64
# (qemu-system-x86, software emulation) on a kernel taken from Debian's
# package (extracted, not installed) with a tiny busybox initrd per image
# (busybox-static, cpio). Sourced by scripts/test; idempotent, quick when
# everything is there.
#
# Exports:
#   BOUTURE_MULTIBOOT_KERNEL   a bzImage from Debian's cloud kernel package
#   BOUTURE_MULTIBOOT_BUSYBOX  a static busybox for the test initrds

_mb_need=()
command -v sfdisk >/dev/null 2>&1 || _mb_need+=(fdisk)
command -v mkfs.ext4 >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.ext4 ] || _mb_need+=(e2fsprogs)
command -v grub-mkimage >/dev/null 2>&1 || _mb_need+=(grub-common)
command -v grub-editenv >/dev/null 2>&1 || _mb_need+=(grub2-common)
[ -f /usr/lib/grub/i386-pc/boot.img ] || _mb_need+=(grub-pc-bin)
command -v qemu-system-x86_64 >/dev/null 2>&1 || _mb_need+=(qemu-system-x86)
command -v qemu-img >/dev/null 2>&1 || _mb_need+=(qemu-utils)
[ -x /bin/busybox ] || _mb_need+=(busybox-static)
command -v cpio >/dev/null 2>&1 || _mb_need+=(cpio)
command -v mkswap >/dev/null 2>&1 || [ -x /usr/sbin/mkswap ] || _mb_need+=(util-linux)
# vfat (mkfs.fat, fsck.fat; mcopy, mmd, mtype) and xfs (mkfs.xfs, xfs_repair, xfs_db).
command -v mkfs.fat >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.fat ] || _mb_need+=(dosfstools)
command -v mcopy >/dev/null 2>&1 || _mb_need+=(mtools)
command -v mkfs.xfs >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.xfs ] || _mb_need+=(xfsprogs)

if [ "${#_mb_need[@]}" -gt 0 ]; then
    echo "40-multiboot: installing ${_mb_need[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "40-multiboot: must run as root to install them (apt-get install ${_mb_need[*]})" >&2
        return 1
    fi
    _mb_pkgs=()
    for _mb_p in "${_mb_need[@]}"; do
        [ "$_mb_p" = qemu-utils ] || _mb_pkgs+=("$_mb_p")
    done
    # A backported qemu-utils (10.x) breaks qemu-system-common 7.2: install
    # the qemu-utils of the same release as qemu-system-x86 with it.
    if [[ " ${_mb_need[*]} " == *" qemu-system-x86 "* ]]; then
        _mb_qemu=$(apt-cache policy qemu-system-x86 | awk '/Candidate:/ {print $2}')
        if [ -n "$_mb_qemu" ] && [ "$_mb_qemu" != "(none)" ]; then
            _mb_pkgs+=("qemu-utils=$_mb_qemu")
        else
            _mb_pkgs+=(qemu-utils)
        fi
    elif [[ " ${_mb_need[*]} " == *" qemu-utils "* ]]; then
        _mb_pkgs+=(qemu-utils)
    fi
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        --allow-downgrades "${_mb_pkgs[@]}" >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            --allow-downgrades "${_mb_pkgs[@]}" >/dev/null || {
            echo "40-multiboot: apt-get install ${_mb_pkgs[*]} failed" >&2
            return 1
        }
    fi
fi

# The kernel: Debian's cloud kernel package, downloaded and unpacked (not
# installed) into target/, once.
_mb_dir="$(pwd)/target/multiboot-kernel"
BOUTURE_MULTIBOOT_KERNEL="${BOUTURE_MULTIBOOT_KERNEL:-$_mb_dir/vmlinuz}"
if [ ! -s "$BOUTURE_MULTIBOOT_KERNEL" ]; then
    echo "40-multiboot: downloading Debian's cloud kernel package for the boot test" >&2
    mkdir -p "$_mb_dir"
    _mb_pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
    if [ -z "$_mb_pkg" ] && [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
        _mb_pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
    fi
    if [ -z "$_mb_pkg" ]; then
        echo "40-multiboot: no linux-image-cloud-amd64 in the apt lists (apt-get update?)" >&2
        return 1
    fi
    (
        cd "$_mb_dir" && rm -f ./*.deb && apt-get download -qq "$_mb_pkg" >/dev/null 2>&1 \
            && dpkg-deb --fsys-tarfile ./*.deb | tar -x --wildcards './boot/vmlinuz-*' \
            && mv ./boot/vmlinuz-* vmlinuz.tmp && mv vmlinuz.tmp vmlinuz && rm -rf ./boot ./*.deb
    ) || {
        echo "40-multiboot: could not download or unpack $_mb_pkg" >&2
        return 1
    }
fi
BOUTURE_MULTIBOOT_BUSYBOX="${BOUTURE_MULTIBOOT_BUSYBOX:-/bin/busybox}"
export BOUTURE_MULTIBOOT_KERNEL BOUTURE_MULTIBOOT_BUSYBOX
unset _mb_need _mb_pkgs _mb_p _mb_qemu _mb_dir _mb_pkg
