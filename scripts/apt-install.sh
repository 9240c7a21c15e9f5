# Sourced by the interop scripts (bash).
#
# apt_install PACKAGE... installs the Debian packages given (the caller
# passes those that are missing), starting no service: policy-rc.d exit
# 101 ("action forbidden") while apt runs, created here only when the
# machine has none and removed afterwards (the caller's cleanup removes
# it too when apt fails: it is named in $created_policy). Postfix is
# preseeded to install no configuration of its own.
policy=/usr/sbin/policy-rc.d
created_policy=""
apt_install() {
	[ $# -eq 0 ] && return 0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		created_policy=1
	fi
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
	if [ -n "$created_policy" ]; then rm -f "$policy"; created_policy=""; fi
}
