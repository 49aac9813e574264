#!/usr/bin/env bash
# gloo-headers.sh STAMP - makes sure gloo's C++ headers are present for libgrowthtorch's c10d Gloo
# backend, installing Debian's libgloo-dev when they are missing, and records where they are in
# STAMP (rewritten only when that changes, so `make lib` rebuilds exactly when gloo support
# appears or goes). The PyTorch wheel ships c10d and gloo compiled into libtorch_cpu, but not
# gloo's headers, which ProcessGroupGloo.hpp includes (docs/distributed.md).
#
# Never fails: without the headers the library is built without Gloo support, and its
# process-group entry points say so ("built without c10d Gloo support"). It says loudly why.
set -u
stamp=${1:?usage: gloo-headers.sh STAMP}

find_headers() {
	local d
	for d in ${GLOO_INCLUDE_DIR:+"$GLOO_INCLUDE_DIR"} "$(pwd)/third_party/gloo/include" /usr/include /usr/local/include; do
		if [ -f "$d/gloo/config.h" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

warn() {
	echo "======================================================================================"
	echo "make gloo: $*"
	echo "  libgrowthtorch is built WITHOUT c10d Gloo support: multi-process training (--nproc,"
	echo "  torchrun, SLURM) and the distributed tests will fail with \"built without c10d Gloo"
	echo "  support\". Install the headers as root (apt-get install -y libgloo-dev), or point"
	echo "  GLOO_INCLUDE_DIR at a folder holding gloo/config.h, then run make lib again."
	echo "======================================================================================"
}

dir=$(find_headers)
if [ -z "$dir" ]; then
	if ! command -v apt-get >/dev/null 2>&1; then
		warn "gloo's headers are missing and this system has no apt-get to install libgloo-dev."
	else
		if [ "$(id -u)" = 0 ]; then
			as_root=()
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			as_root=(sudo -n)
		else
			as_root=(none)
		fi
		if [ "${as_root[0]:-}" = none ]; then
			warn "gloo's headers are missing and installing libgloo-dev needs root (no password-less sudo here)."
		else
			echo "make gloo: gloo's headers are missing; installing libgloo-dev (apt-get)"
			apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q)
			# A fresh machine may have no package lists yet: update once if the first try fails.
			if ! "${apt[@]}" install libgloo-dev >/tmp/growthtrain-gloo-apt.log 2>&1; then
				"${apt[@]}" update >>/tmp/growthtrain-gloo-apt.log 2>&1
				"${apt[@]}" install libgloo-dev >>/tmp/growthtrain-gloo-apt.log 2>&1
			fi
			dir=$(find_headers)
			if [ -n "$dir" ]; then
				echo "make gloo: installed libgloo-dev ($dir/gloo)"
			else
				tail -5 /tmp/growthtrain-gloo-apt.log
				warn "apt-get install libgloo-dev failed (log: /tmp/growthtrain-gloo-apt.log)."
			fi
		fi
	fi
fi
state=${dir:-none}
mkdir -p "$(dirname "$stamp")"
if [ "$(cat "$stamp" 2>/dev/null)" != "$state" ]; then
	echo "$state" >"$stamp"
fi
exit 0
