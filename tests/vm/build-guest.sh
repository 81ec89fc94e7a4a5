#!/bin/bash
# tests/vm/build-guest.sh: build (or reuse from the cache) the guest that the VM tests boot.
#
# The guest is Debian 12's own kernel, booted as an uncompressed vmlinux (PVH entry, so QEMU
# loads the ELF directly and skips the bzImage decompressor), plus an uncompressed newc cpio
# initramfs holding busybox, nvme-cli, open-iscsi, e2fsprogs, a few util-linux tools, kmod, the
# shared libraries they need and the kernel modules of the NVMe/TCP and iSCSI initiators.
# Everything comes from Debian packages fetched with `apt-get download`; nothing is compiled.
#
# Usage: build-guest.sh [--force] [--quiet]
#   Prints the guest directory on stdout (vmlinux, initramfs.cpio, kver, packages.txt,
#   modules.txt). Progress and timings go to stderr. Must run as root (it may apt-get install
#   its host prerequisites, and uses chroot to check the image).
# Environment:
#   NVB_VM_CACHE   cache directory (default /var/cache/nvbridge-vm)
#   NVB_VM_KERNEL  6.12 (default: linux-image-6.12-amd64) or 6.1 (linux-image-amd64);
#                  KERNEL is read when NVB_VM_KERNEL is unset.
#
# Caching: the guest lives in $NVB_VM_CACHE/guest-<key>, key = sha256 of the resolved
# "package=version" list and of this script. A second run with unchanged apt lists and an
# unchanged script finds it through $NVB_VM_CACHE/index/ without asking apt anything.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
CACHE=${NVB_VM_CACHE:-/var/cache/nvbridge-vm}
KERNEL_CHOICE=${NVB_VM_KERNEL:-${KERNEL:-6.12}}
FORCE=0
QUIET=0
for arg in "$@"; do
	case $arg in
	--force) FORCE=1 ;;
	--quiet|-q) QUIET=1 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "build-guest: unknown argument '$arg'" >&2; exit 2 ;;
	esac
done

say() { [ "$QUIET" = 1 ] || echo "build-guest: $*" >&2; }
die() { echo "build-guest: error: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

T0=$(now)
[ "$(id -u)" = 0 ] || die "must run as root (apt-get, depmod on a private tree, chroot check)"

case $KERNEL_CHOICE in
6.12) KERNEL_META=linux-image-6.12-amd64 ;;
6.1) KERNEL_META=linux-image-amd64 ;;
linux-image-*) KERNEL_META=$KERNEL_CHOICE ;;
*) die "NVB_VM_KERNEL must be 6.12, 6.1 or a linux-image-* package name (got '$KERNEL_CHOICE')" ;;
esac

# Userland packages whose programs go into the guest. Their library closure is added below.
ROOT_PACKAGES="busybox-static dash bash nvme-cli libnvme1 open-iscsi e2fsprogs util-linux kmod"

# Programs copied from the unpacked packages, by file name (searched in sbin, bin, usr/sbin,
# usr/bin). They land in /usr/sbin of the guest; /sbin and /bin are symlinks into /usr.
PROGRAMS="nvme iscsiadm iscsid iscsi-iname mke2fs e2fsck tune2fs dumpe2fs resize2fs debugfs
	lsblk blkid findmnt wipefs kmod"
# Shells, into /usr/bin. /bin/sh is dash, not busybox: Debian's static busybox prefers its own
# applets to PATH (FEATURE_SH_STANDALONE), so under its sh `mke2fs` or `modprobe` would be the
# busybox imitations instead of e2fsprogs' and kmod's. Test scripts may also use bash.
SHELLS="dash bash"
# name=target symlinks in /usr/sbin, made after the programs.
PROGRAM_LINKS="mkfs.ext4=mke2fs mkfs.ext3=mke2fs mkfs.ext2=mke2fs fsck.ext4=e2fsck
	fsck.ext2=e2fsck e2label=tune2fs modprobe=kmod insmod=kmod rmmod=kmod lsmod=kmod
	depmod=kmod modinfo=kmod"

# Modules loaded at boot, in this order, with their dependency closure. REQUIRED ones must
# exist as modules or built-ins; OPTIONAL ones are taken when the kernel has them as modules.
# The optional list covers the soft dependencies `modprobe --show-depends` cannot see: the
# kernel asks for "crc32c"/"crct10dif" by algorithm name (header/data digests, T10-PI), and
# NVMe in-band authentication and TLS need hmac/sha2/dh and the tls module.
REQUIRED_MODULES="virtio_pci virtio_net nvme_core nvme_fabrics nvme_tcp scsi_transport_iscsi libiscsi_tcp
	iscsi_tcp sd_mod ext4"
OPTIONAL_MODULES="crc32c_generic crc32c_intel crct10dif_generic crct10dif_pclmul
	crc64_rocksoft_generic crc64_rocksoft t10_pi nvme_keyring nvme_auth tls hmac
	sha256_generic sha256_ssse3 sha512_generic sha512_ssse3 dh_generic ecdh_generic"
# In the image but not loaded at boot: tests modprobe them when they need them.
ON_DEMAND_MODULES="sg loop"

# Fixed identities of the test guest (tests refer to them: keep in sync with README.md).
GUEST_HOSTID=6e766272-6964-4765-8000-000000000001
GUEST_HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:$GUEST_HOSTID
GUEST_IQN=iqn.1993-08.org.debian:01:nvbridge-guest

# --- host prerequisites -----------------------------------------------------------------

APT_UPDATED=0
apt_update_once() {
	[ "$APT_UPDATED" = 1 ] && return 0
	say "apt-get update"
	apt-get update -qq >&2 || die "apt-get update failed"
	APT_UPDATED=1
}

host_prerequisites() {
	local need="" cmd pkg
	for pair in qemu-system-x86_64:qemu-system-x86 depmod:kmod modprobe:kmod cpio:cpio \
		zstd:zstd xz:xz-utils readelf:binutils dpkg-deb:dpkg flock:util-linux \
		sha256sum:coreutils awk:mawk; do
		cmd=${pair%%:*}
		pkg=${pair#*:}
		command -v "$cmd" >/dev/null 2>&1 || need="$need $pkg"
	done
	# qemu's x86 firmware (SeaBIOS + the PVH option ROM) is a separate package.
	[ -e /usr/share/qemu/pvh.bin ] || need="$need qemu-system-data"
	[ -e /usr/share/seabios/bios-256k.bin ] || [ -e /usr/share/qemu/bios-256k.bin ] ||
		need="$need seabios"
	[ -z "$need" ] && return 0
	need=$(echo "$need" | tr ' ' '\n' | sort -u | tr '\n' ' ')
	say "installing host prerequisites:$need"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	if ! apt-get install -y -qq --no-install-recommends $need >&2; then
		apt_update_once
		# shellcheck disable=SC2086
		apt-get install -y -qq --no-install-recommends $need >&2 ||
			die "apt-get install$need failed"
	fi
}

# --- cache lookup without apt (the fast path) --------------------------------------------

# Anything that can change the resolved package set: this script, the kernel choice, and the
# apt package lists (names, sizes, mtimes).
index_key() {
	{
		sha256sum "$SELF"
		echo "$KERNEL_META"
		stat -c '%n %s %Y' /var/lib/apt/lists/*_Packages* 2>/dev/null || true
	} | sha256sum | cut -c1-32
}

guest_complete() {
	[ -s "$1/vmlinux" ] && [ -s "$1/initramfs.cpio" ] && [ -s "$1/kver" ]
}

host_prerequisites
mkdir -p "$CACHE/index" "$CACHE/debs"
IDX=$(index_key)
if [ "$FORCE" = 0 ] && [ -s "$CACHE/index/$IDX" ]; then
	GUEST=$CACHE/$(cat "$CACHE/index/$IDX")
	if guest_complete "$GUEST"; then
		say "cached guest $GUEST ($(since "$T0") s)"
		echo "$GUEST"
		exit 0
	fi
fi

# One builder at a time per cache (parallel `make check` jobs may all get here on a cold cache).
exec 9>"$CACHE/.lock"
flock 9

# --- resolve packages -------------------------------------------------------------------

# Print "Package Version Depends-first-alternatives..." for each package apt knows (candidate
# version). Debian's Depends/Pre-Depends grammar: "a (>= 1) | b, c:any".
apt_fields() {
	apt-cache show --no-all-versions "$@" 2>/dev/null | awk '
		function flush() { if (pkg != "") print pkg, ver, deps; pkg = ""; ver = ""; deps = "" }
		/^Package: / { flush(); pkg = $2 }
		/^Version: / { ver = $2 }
		/^(Depends|Pre-Depends): / {
			sub(/^[A-Za-z-]+: /, "")
			n = split($0, alts, ",")
			for (i = 1; i <= n; i++) {
				d = alts[i]; sub(/\|.*/, "", d); sub(/\(.*/, "", d)
				gsub(/[ \t]/, "", d); sub(/:.*/, "", d)
				if (d != "") deps = deps " " d
			}
		}
		END { flush() }'
}

apt-cache show "$KERNEL_META" >/dev/null 2>&1 || apt_update_once
apt-cache show "$KERNEL_META" >/dev/null 2>&1 || die "apt does not know $KERNEL_META"

# The meta package depends on the versioned image package (linux-image-6.12.x+deb12-amd64).
KERNEL_PKG=$(apt_fields "$KERNEL_META" | awk '{ for (i = 3; i <= NF; i++)
	if ($i ~ /^linux-image-[0-9]/) { print $i; exit } }')
[ -n "$KERNEL_PKG" ] || die "cannot resolve $KERNEL_META to a versioned kernel image package"

# Breadth-first closure over library packages only: a guest needs their .so files, not
# debconf, udev, perl or init-system glue. The first alternative of each dependency is taken.
declare -A VERSION=()
queue="$KERNEL_PKG $ROOT_PACKAGES"
while [ -n "$queue" ]; do
	next=""
	# shellcheck disable=SC2086 # $queue and $deps are lists of package names
	while read -r pkg ver deps; do
		[ -n "${VERSION[$pkg]:-}" ] && continue
		VERSION[$pkg]=$ver
		for d in $deps; do
			case $d in
			lib*|zlib1g) [ -z "${VERSION[$d]:-}" ] && next="$next $d" ;;
			esac
		done
	done < <(apt_fields $queue)
	queue=$(echo "$next" | tr ' ' '\n' | sort -u | grep -v '^$' | tr '\n' ' ' || true)
done
for pkg in $KERNEL_PKG $ROOT_PACKAGES; do
	[ -n "${VERSION[$pkg]:-}" ] || die "apt has no candidate for $pkg"
done

PKGLIST=$(for pkg in "${!VERSION[@]}"; do echo "$pkg=${VERSION[$pkg]}"; done | LC_ALL=C sort)
KEY=$({ echo "$PKGLIST"; sha256sum "$SELF"; } | sha256sum | cut -c1-32)
GUEST=$CACHE/guest-$KEY
if [ "$FORCE" = 0 ] && guest_complete "$GUEST"; then
	echo "guest-$KEY" >"$CACHE/index/$IDX"
	say "cached guest $GUEST ($(since "$T0") s)"
	echo "$GUEST"
	exit 0
fi
say "building guest-$KEY for $KERNEL_PKG ($(echo "$PKGLIST" | wc -l) packages)"

# --- download ---------------------------------------------------------------------------

deb_file() { # pkg version -> cached .deb path or nothing (apt writes ':' in versions as %3a)
	local f
	for f in "$CACHE/debs/$1_${2//:/%3a}_"*.deb; do
		[ -s "$f" ] && { echo "$f"; return 0; }
	done
	return 0
}

T_DL=$(now)
missing=""
for entry in $PKGLIST; do
	[ -n "$(deb_file "${entry%%=*}" "${entry#*=}")" ] || missing="$missing $entry"
done
if [ -n "$missing" ]; then
	say "downloading:$missing"
	# shellcheck disable=SC2086
	if ! (cd "$CACHE/debs" && apt-get download -qq -o APT::Sandbox::User=root $missing >&2); then
		# Stale lists name versions the archive has replaced: refresh them and start over.
		[ -z "${NVB_VM_APT_REFRESHED:-}" ] || die "apt-get download failed"
		apt_update_once
		NVB_VM_APT_REFRESHED=1 exec "$SELF" "$@"
	fi
fi
say "downloads ready ($(since "$T_DL") s)"

# --- unpack -----------------------------------------------------------------------------

WORK=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
STAGE=$WORK/stage  # every package unpacked
OUT=$WORK/root     # the initramfs tree
mkdir -p "$STAGE" "$OUT"
# Merged-/usr layout: /bin, /lib, /lib64 are symlinks into /usr. /sbin is the exception, see
# below.
mkdir -p "$OUT"/usr/{bin,sbin,lib/x86_64-linux-gnu,lib64} "$OUT"/{proc,sys,dev,run,tmp,root,mnt,test} \
	"$OUT"/etc/{nvme,iscsi/nodes,iscsi/send_targets,iscsi/ifaces,modprobe.d,nvb} \
	"$OUT"/var/lib/iscsi "$OUT"/var/lock
ln -s usr/bin "$OUT/bin"
ln -s usr/lib "$OUT/lib"
ln -s usr/lib64 "$OUT/lib64"
chmod 1777 "$OUT/tmp"

T_UNPACK=$(now)
for entry in $PKGLIST; do
	dpkg-deb -x "$(deb_file "${entry%%=*}" "${entry#*=}")" "$STAGE"
done
say "unpacked ($(since "$T_UNPACK") s)"

KVER=$(find "$STAGE/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | head -n1)
if [ -z "$KVER" ] || [ ! -e "$STAGE/boot/vmlinuz-$KVER" ]; then
	die "no kernel image in $KERNEL_PKG"
fi

# --- vmlinux ----------------------------------------------------------------------------

# The bzImage boot header (Documentation/arch/x86/boot.rst) says where the compressed kernel
# is: setup_sects at 0x1f1, payload_offset/payload_length at 0x248/0x24c, counted from the
# protected-mode code at (setup_sects + 1) * 512. The payload's last 4 bytes are the
# uncompressed size, appended by the kernel build, not part of the compressed stream.
payload() { # file offset length
	dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=1M status=none
}
extract_vmlinux() {
	local bz=$1 out=$2 setup off len start magic
	[ "$(dd if="$bz" bs=1 skip=$((0x202)) count=4 2>/dev/null)" = HdrS ] ||
		die "$bz is not a bzImage"
	setup=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
	[ "$setup" = 0 ] && setup=4
	read -r off len < <(od -An -tu4 -j $((0x248)) -N8 "$bz")
	start=$(((setup + 1) * 512 + off))
	magic=$(od -An -tx1 -j "$start" -N6 "$bz" | tr -d ' ')
	case $magic in
	28b52ffd*) payload "$bz" "$start" $((len - 4)) | zstd -dcq >"$out" ;;
	fd377a585a00) payload "$bz" "$start" "$len" | xz -dcq --single-stream >"$out" ;;
	1f8b*) payload "$bz" "$start" "$len" | gzip -dcq >"$out" ;;
	*) die "unknown kernel compression (magic $magic) in $bz" ;;
	esac
	[ "$(od -An -tx1 -N4 "$out" | tr -d ' ')" = 7f454c46 ] || die "extracted vmlinux is not ELF"
	# QEMU boots an ELF kernel only through the PVH entry note (Xen ELF note type 18).
	readelf -n "$out" 2>/dev/null | grep -q -E 'Xen.*(0x00000012|PHYS32_ENTRY)' ||
		die "vmlinux has no PVH entry point (CONFIG_PVH): QEMU cannot boot it directly"
}

T_K=$(now)
extract_vmlinux "$STAGE/boot/vmlinuz-$KVER" "$WORK/vmlinux"
say "vmlinux extracted ($(since "$T_K") s)"

# --- modules ----------------------------------------------------------------------------

T_MOD=$(now)
MODS=$STAGE/lib/modules/$KVER
OUTMODS=$OUT/usr/lib/modules/$KVER
mkdir -p "$OUTMODS"
depmod -b "$STAGE" "$KVER" || die "depmod on the unpacked kernel failed"

BOOT_MODULES=""
declare -A MODFILE_SEEN=()
add_module_closure() { # module [on-demand] -> copies its closure; fails if modprobe does not know it
	local mod=$1 on_demand=${2:-} line deps
	deps=$(modprobe -d "$STAGE" -S "$KVER" --show-depends "$mod" 2>/dev/null) || return 1
	while read -r line; do
		# shellcheck disable=SC2086 # "insmod PATH [OPTIONS]" into words
		set -- $line
		[ "$1" = insmod ] || continue
		[ -n "${MODFILE_SEEN[$2]:-}" ] && continue
		MODFILE_SEEN[$2]=1
		local rel=${2#"$MODS"/}
		rel=${rel%.xz}
		rel=${rel%.zst}
		rel=${rel%.gz}
		mkdir -p "$OUTMODS/$(dirname "$rel")"
		# Decompress here: the guest then needs no decompressor, and loading is faster.
		case $2 in
		*.xz) xz -dc "$2" >"$OUTMODS/$rel" ;;
		*.zst) zstd -dcq "$2" >"$OUTMODS/$rel" ;;
		*.gz) gzip -dc "$2" >"$OUTMODS/$rel" ;;
		*) cp "$2" "$OUTMODS/$rel" ;;
		esac
	done <<<"$deps"
	# Built-in ones need no loading; only real modules go in the boot list.
	[ -z "$on_demand" ] && grep -q '^insmod ' <<<"$deps" && BOOT_MODULES="$BOOT_MODULES $mod"
	return 0
}
for m in $REQUIRED_MODULES; do
	add_module_closure "$m" || die "kernel $KVER has no module $m"
done
for m in $OPTIONAL_MODULES; do
	add_module_closure "$m" || say "optional module $m not available, skipped"
done
for m in $ON_DEMAND_MODULES; do
	add_module_closure "$m" on-demand || say "optional module $m not available, skipped"
done
cp "$MODS"/modules.order "$MODS"/modules.builtin* "$OUTMODS/"
depmod -b "$OUT" "$KVER" || die "depmod on the guest tree failed"
say "$(find "$OUTMODS" -name '*.ko' | wc -l) modules ($(since "$T_MOD") s)"

# --- programs and shared libraries ------------------------------------------------------

T_BIN=$(now)

find_program() {
	local d
	for d in sbin bin usr/sbin usr/bin; do
		[ -f "$STAGE/$d/$1" ] && [ ! -L "$STAGE/$d/$1" ] && { echo "$STAGE/$d/$1"; return 0; }
	done
	return 1
}

for p in $PROGRAMS; do
	src=$(find_program "$p") || die "program $p not found in the unpacked packages"
	cp "$src" "$OUT/usr/sbin/$p"
done
for p in $SHELLS; do
	src=$(find_program "$p") || die "shell $p not found in the unpacked packages"
	cp "$src" "$OUT/usr/bin/$p"
done
ln -s dash "$OUT/usr/bin/sh"
for l in $PROGRAM_LINKS; do
	ln -s "${l#*=}" "$OUT/usr/sbin/${l%%=*}"
done

# Busybox provides everything else; real programs win over its applets.
cp "$STAGE/bin/busybox" "$OUT/usr/bin/busybox"
while read -r applet; do
	name=${applet##*/}
	case $applet in sbin/*|usr/sbin/*) dir=usr/sbin ;; *) dir=usr/bin ;; esac
	[ -e "$OUT/usr/bin/$name" ] || [ -e "$OUT/usr/sbin/$name" ] || [ -L "$OUT/usr/sbin/$name" ] ||
		ln -s /usr/bin/busybox "$OUT/$dir/$name"
done < <("$OUT/usr/bin/busybox" --list-full)

# Shared libraries: follow DT_NEEDED from every program (ldd's logic, without running
# anything), looking only in the unpacked packages so that a library missing from the
# package closure is an error here and not a surprise in the guest.
LIBDIRS="$STAGE/lib/x86_64-linux-gnu $STAGE/usr/lib/x86_64-linux-gnu $STAGE/lib64 $STAGE/usr/lib64"
declare -A LIB_SEEN=()
copy_lib() { # soname
	local d
	[ -n "${LIB_SEEN[$1]:-}" ] && return 0
	for d in $LIBDIRS; do
		if [ -e "$d/$1" ]; then
			LIB_SEEN[$1]=1
			cp -L "$d/$1" "$OUT/usr/lib/x86_64-linux-gnu/$1"
			lib_queue="$lib_queue $OUT/usr/lib/x86_64-linux-gnu/$1"
			return 0
		fi
	done
	die "shared library $1 not found in the package closure"
}
lib_queue=$(find "$OUT/usr/sbin" "$OUT/usr/bin" -type f)
while [ -n "$lib_queue" ]; do
	files=$lib_queue
	lib_queue=""
	for f in $files; do
		interp=$(readelf -l "$f" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
		[ -n "$interp" ] && copy_lib "$(basename "$interp")"
		for so in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			copy_lib "$so"
		done
	done
done
ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$OUT/usr/lib64/ld-linux-x86-64.so.2"
say "${#LIB_SEEN[@]} shared libraries ($(since "$T_BIN") s)"

# --- configuration ----------------------------------------------------------------------

cp "$STAGE/etc/mke2fs.conf" "$OUT/etc/"
sed 's|^iscsid.startup = .*|iscsid.startup = /usr/sbin/iscsid|' \
	"$STAGE/etc/iscsi/iscsid.conf" >"$OUT/etc/iscsi/iscsid.conf"
echo "$GUEST_HOSTNQN" >"$OUT/etc/nvme/hostnqn"
echo "$GUEST_HOSTID" >"$OUT/etc/nvme/hostid"
echo "InitiatorName=$GUEST_IQN" >"$OUT/etc/iscsi/initiatorname.iscsi"
echo "options nvme_core multipath=Y" >"$OUT/etc/modprobe.d/nvbridge.conf"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
	>"$OUT/etc/passwd"
printf 'root:x:0:\ndisk:x:6:\nnogroup:x:65534:\n' >"$OUT/etc/group"
printf '127.0.0.1\tlocalhost\n10.0.2.15\tnvb-guest\n10.0.2.2\thost\n' >"$OUT/etc/hosts"
echo nvb-guest >"$OUT/etc/hostname"
: >"$OUT/etc/fstab"
ln -s /proc/self/mounts "$OUT/etc/mtab"
echo "$BOOT_MODULES" | tr ' ' '\n' | grep -v '^$' >"$OUT/etc/nvb/modules"
echo "$KVER" >"$OUT/etc/nvb/kver"
echo "$PKGLIST" >"$OUT/etc/nvb/packages"
# The kernel opens /dev/console for /init before anything can mount devtmpfs.
mknod -m 600 "$OUT/dev/console" c 5 1
mknod -m 666 "$OUT/dev/null" c 1 3

# /sbin holds a link to every program of /usr/sbin except modprobe, which is busybox's here:
# the kernel runs /sbin/modprobe (CONFIG_MODPROBE_PATH) for every crypto algorithm it looks
# up while booting, and each start of the dynamically linked kmod costs ~0.1 s of emulated
# CPU (about a second in all). /init points kernel.modprobe at kmod's /usr/sbin/modprobe as
# soon as /proc is mounted, so tests and the running kernel use kmod like any Debian system.
mkdir -p "$OUT/sbin"
for f in "$OUT"/usr/sbin/*; do
	ln -s "/usr/sbin/${f##*/}" "$OUT/sbin/${f##*/}"
done
rm "$OUT/sbin/modprobe"
ln -s /usr/bin/busybox "$OUT/sbin/modprobe"

# Prove the closure on the host: every program must start with only the image's libraries.
for check in "sh -c true" "bash -c true" "nvme version" "iscsiadm --version" "iscsid --version" "mke2fs -V" \
	"lsblk --version" "kmod --version" "busybox true"; do
	# shellcheck disable=SC2086 # a command line
	chroot "$OUT" $check >/dev/null 2>&1 || die "'$check' does not run inside the image"
done

# --- pack -------------------------------------------------------------------------------

(cd "$OUT" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) \
	>"$WORK/initramfs.cpio"
echo "$KVER" >"$WORK/kver"
echo "$PKGLIST" >"$WORK/packages.txt"
echo "$BOOT_MODULES" | tr ' ' '\n' | grep -v '^$' >"$WORK/modules.txt"
(cd "$OUT" && find usr/lib/modules -name '*.ko' | LC_ALL=C sort) >>"$WORK/modules.txt"
rm -rf "$STAGE" "$OUT"

rm -rf "$GUEST"
chmod 755 "$WORK"
mv "$WORK" "$GUEST"
trap - EXIT
echo "guest-$KEY" >"$CACHE/index/$IDX"

# Older guests of the same kind are left behind by package updates: keep the newest three.
ls -1dt "$CACHE"/guest-* 2>/dev/null | tail -n +4 | xargs -r rm -rf
for idx in "$CACHE"/index/*; do
	[ -d "$CACHE/$(cat "$idx")" ] || rm -f "$idx"
done

say "built $GUEST in $(since "$T0") s (initramfs $(($(stat -c %s "$GUEST/initramfs.cpio") / 1024)) KiB)"
echo "$GUEST"
