# signed-world.sh: the pieces of a private, signed DNS world shared by the
# interop scripts (dnssec-interop.sh, dane-interop.sh): keys and signatures
# with ldns, knotd serving the pre-signed zones, Unbound validating from
# the private root's anchor. Sourced; the caller sets $tmp (with keys/,
# zones/, knot/, unbound/), $ALG, $AUTH (knotd's address) and $RESOLVER
# (Unbound's).

# keygen makes a key-signing key for zone $1 in $tmp/keys; prints its base name.
keygen() {
	(cd "$tmp/keys" && ldns-keygen -a "$ALG" -k -r /dev/urandom "$1")
}

# ds prints the SHA-256 DS record of key base name $1.
ds() {
	(cd "$tmp/keys" && ldns-key2ds -n -2 "$1.key")
}

# sign signs zone file $1 for origin $2 with key $3 into $1.signed; extra
# arguments go to ldns-signzone (inception and expiration dates).
sign() {
	local file=$1 origin=$2 key=$3
	shift 3
	ldns-signzone "$@" -o "$origin" -f "$file.signed" "$file" "$tmp/keys/$key"
}

# knot_conf writes knotd's own configuration: the root, test. and the
# child zones $1... of test., all pre-signed, served as they are (no
# signing, no journal, never written back).
knot_conf() {
	cat >"$tmp/knot/knot.conf" <<EOF
server:
    rundir: "$tmp/knot"
    listen: $AUTH@53
log:
  - target: "$tmp/knot/knot.log"
    any: info
database:
    storage: "$tmp/knot/db"
template:
  - id: default
    storage: "$tmp/zones"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: .
    file: root.zone.signed
  - domain: test.
    file: test.zone.signed
EOF
	for z in "$@"; do
		printf '  - domain: %s.test.\n    file: %s.test.zone.signed\n' "$z" "$z" >>"$tmp/knot/knot.conf"
	done
}

# unbound_conf writes Unbound's own configuration: root hints pointing at
# knotd, the private root's trust anchor, val-log-level 2.
unbound_conf() {
	cat >"$tmp/unbound/unbound.conf" <<EOF
server:
    interface: $RESOLVER
    port: 53
    do-ip6: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$tmp/unbound"
    pidfile: "$tmp/unbound/unbound.pid"
    use-syslog: no
    logfile: "$tmp/unbound/unbound.log"
    verbosity: 1
    val-log-level: 2
    ede: yes
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    root-hints: "$tmp/unbound/root.hints"
    trust-anchor-file: "$tmp/anchor.ds"
    module-config: "validator iterator"
    # test. is a special-use name (RFC 6761) that Unbound answers itself
    # by default; here it is the private root's child.
    local-zone: "test." nodefault
remote-control:
    control-enable: no
EOF
}
