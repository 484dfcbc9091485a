#!/bin/bash
# The kernel VM test, inside the guest running the patched kernel (started by guest-init.sh).
#
# Namespaces on one bridge, 198.18.0.0/24:
#   c1 .11  patched client (net.ipv4.tcp_redirect=1 for the VIPs 198.19.0.0/24)
#   c2 .12  crab TC client (crab-endpoint client), patch off
#   lb .2   crab-lb (XDP), VIPs 198.19.0.1-4 routed to it by the clients
#   s1 .21  crab TC server (crab-endpoint server), patch off
#   s2 .22  patched server (net.ipv4.tcp_redirect_echo=1)
#   fg .66  forger
# Mixes, each N connections to a VIP served on the backend's port (option length 6) and N to one served on
# port 8080 (port redirection, length 8): A c1 -> s1, B c2 -> s2, C c1 -> s2. Then forged SYN-ACKs at an
# established c1 connection, and the ACK check on a connecting one.
set -euo pipefail

OUT=${KT_OUT:-/tmp/out}
KT=$OUT/crabkt
JAR=$OUT/crab.jar
N=${CRAB_KT_CONNECTIONS:-120}
W=${KT_WORK:-/tmp/kt}
mkdir -p $W
# Java under TCG: small heaps, the C1 compiler only, serial GC, IPv4 sockets (the guest has no IPv6).
export JAVA_TOOL_OPTIONS="-Xmx160m -Xss512k -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.net.preferIPv4Stack=true"

failures=0
t0=$(date +%s)
say() { printf '[%4ss] %s\n' "$(($(date +%s) - t0))" "$*"; }
pass() { say "PASS $*"; echo "PASS $*" >> $OUT/summary; }
fail() { say "FAIL $*"; echo "FAIL $*" >> $OUT/summary; failures=$((failures + 1)); }
# Namespace names carry $KT_PREFIX (empty in the guest), so that a dry run of the plumbing on a host cannot meet
# other namespaces.
P=${KT_PREFIX:-}
# nsenter rather than ip netns exec, which mounts a /sys of its own, without bpffs (crab's pins).
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$P$ns" "$@"; }

# Starts a daemon from crab.jar in a namespace; waits for its "ready" event.
start_daemon() {
    local ns=$1 name=$2 main=$3
    shift 3
    in_ns "$ns" java -cp "$JAR" "$main" "$@" > "$W/$name.log" 2>&1 &
    for _ in $(seq 600); do
        if grep -q 'ready' "$W/$name.log"; then say "$name ready"; return 0; fi
        if ! kill -0 $! 2>/dev/null; then break; fi
        sleep 0.5
    done
    say "$name did not start:"; cat "$W/$name.log"; exit 1
}

# A counter of crab-lb's Prometheus endpoint (the same maps crab-lb status reads).
lb_metric() {
    { in_ns lb curl -s http://198.18.0.2:9750/metrics || true; } |
        awk -v k="$1" '$1 == k { v = $2 } END { printf "%d\n", v + 0 }'
}

echo -n > $OUT/summary
say "defaults: tcp_redirect=$(sysctl -n net.ipv4.tcp_redirect) tcp_redirect_echo=$(sysctl -n net.ipv4.tcp_redirect_echo)" \
    "tcp_redirect_vips='$(sysctl -n net.ipv4.tcp_redirect_vips)'"
if [ "$(sysctl -n net.ipv4.tcp_redirect)$(sysctl -n net.ipv4.tcp_redirect_echo)" = 00 ] &&
   [ -z "$(sysctl -n net.ipv4.tcp_redirect_vips)" ]; then
    pass "sysctls off by default"
else
    fail "sysctls off by default"
fi

ip netns add "${P}hub"
ip -n "${P}hub" link add br0 type bridge
ip -n "${P}hub" link set br0 up
declare -A ADDR=([c1]=198.18.0.11 [c2]=198.18.0.12 [lb]=198.18.0.2 [s1]=198.18.0.21 [s2]=198.18.0.22 [fg]=198.18.0.66)
for ns in c1 c2 lb s1 s2 fg; do
    ip netns add "$P$ns"
    ip -n "${P}hub" link add "v-$ns" type veth peer name eth0 netns "$P$ns"
    ip -n "${P}hub" link set "v-$ns" master br0 up
    ip -n "$P$ns" addr add "${ADDR[$ns]}/24" dev eth0
    ip -n "$P$ns" link set eth0 up
    ip -n "$P$ns" link set lo up
done
for ns in c1 c2; do ip -n "$P$ns" route add 198.19.0.0/24 via 198.18.0.2; done
# 198.19.0.9 is a VIP nobody serves (the SYN-SENT check below). crab-lb turns forwarding on, so without this the
# LB host would answer its SYN with an ICMP unreachable, which ends the client's connect() at once.
ip -n "${P}lb" route add blackhole 198.19.0.9/32

# Bad input to the VIP list is refused, and the list reads back as written.
if in_ns c1 sh -c 'echo 198.19.0.1/33 > /proc/sys/net/ipv4/tcp_redirect_vips' 2>/dev/null ||
   in_ns c1 sh -c 'echo 198.19.0.1/16 > /proc/sys/net/ipv4/tcp_redirect_vips' 2>/dev/null; then
    fail "tcp_redirect_vips refuses 198.19.0.1/33 and 198.19.0.1/16"
else
    pass "tcp_redirect_vips refuses 198.19.0.1/33 and 198.19.0.1/16"
fi
in_ns c1 sysctl -qw net.ipv4.tcp_redirect=1 net.ipv4.tcp_redirect_vips="198.19.0.0/24"
say "c1: tcp_redirect=1 tcp_redirect_vips=$(in_ns c1 sysctl -n net.ipv4.tcp_redirect_vips)"
in_ns s2 sysctl -qw net.ipv4.tcp_redirect_echo=1

for ns in s1 s2; do in_ns $ns "$KT" serve 80 8080 > /dev/null & done
start_daemon s1 server io.crab.endpoint.CrabEndpoint server --iface eth0

cat > $W/services <<'EOF'
service tc
    vip 198.19.0.1:80
    backend 198.18.0.21
service tc-port
    vip 198.19.0.2:80
    backend 198.18.0.21:8080
service native
    vip 198.19.0.3:80
    backend 198.18.0.22
service native-port
    vip 198.19.0.4:80
    backend 198.18.0.22:8080
EOF
# One round of health and echo probes at the start, then none while the mixes run, so every packet the XDP
# program sees during a mix is the mix's.
start_daemon lb lb io.crab.lb.CrabLb --iface eth0 --config $W/services --no-watch --health-interval-ms 600000 \
    --metrics-address 198.18.0.2:9750
for _ in $(seq 120); do
    m=$(in_ns lb curl -s http://198.18.0.2:9750/metrics || true)
    up=$(grep -c '^crab_lb_backend_up{.*} 1' <<< "$m" || true)
    echoes=$(grep -c '^crab_lb_backend_echoes{.*} 1' <<< "$m" || true)
    [ "$up" = 4 ] && [ "$echoes" = 4 ] && break
    sleep 1
done
if [ "$up" = 4 ] && [ "$echoes" = 4 ]; then
    pass "crab-lb's probes: the 4 backends up and echoing (crab TC server and patched server alike)"
else
    fail "crab-lb's probes: $up of 4 backends up, $echoes echoing"
    grep '^crab_lb_backend' <<< "$m" || true
fi
start_daemon c2 client io.crab.endpoint.CrabEndpoint client --iface eth0 --vip 198.19.0.3:80 --vip 198.19.0.4:80

# mix NAME CLIENT_NS VIP_SAME PEER_SAME VIP_PORT PEER_PORT: N connections to each VIP (port 80), each
# echoing 100 bytes; the peer getpeername() reports, the SYNs and other packets the LB host was sent by the
# client, and what crab-lb's XDP program counted.
mix() {
    local name=$1 ns=$2 vip1=$3 peer1=$4 vip2=$5 peer2=$6 out1 out2 sniffed t
    local red0 notsyn0 red1 notsyn1
    t=$(date +%s)
    red0=$(lb_metric 'crab_lb_xdp_packets_total{verdict="tx_redirect"}')
    notsyn0=$(lb_metric 'crab_lb_xdp_packets_total{verdict="pass_not_syn"}')
    rm -f $W/sniff $W/sniff.log
    # On the bridge's port to the LB host: what it is sent, before its XDP program sees it. Not through
    # in_ns, a function: $! must be the sniffer itself, which writes its counts on SIGTERM.
    nsenter --net="/run/netns/${P}hub" "$KT" sniff $W/sniff v-lb "${ADDR[$ns]}" > $W/sniff.log &
    local sniffer=$!
    until grep -q sniffing $W/sniff.log 2>/dev/null; do sleep 0.1; done
    out1=$(in_ns "$ns" "$KT" run "$vip1" 80 "$N") || true
    out2=$(in_ns "$ns" "$KT" run "$vip2" 80 "$N") || true
    sleep 0.5
    kill -TERM $sniffer; wait $sniffer || true
    sniffed=$(cat $W/sniff)
    red1=$(lb_metric 'crab_lb_xdp_packets_total{verdict="tx_redirect"}')
    notsyn1=$(lb_metric 'crab_lb_xdp_packets_total{verdict="pass_not_syn"}')
    say "mix $name: $vip1:80 -> $out1"
    say "mix $name: $vip2:80 -> $out2"
    say "mix $name: LB host received from ${ADDR[$ns]}: $sniffed; XDP tx_redirect +$((red1 - red0))," \
        "pass_not_syn +$((notsyn1 - notsyn0)); $(($(date +%s) - t)) s"
    if [ "$out1" = "ok=$N fail=0 peer=$peer1:$N" ] && [ "$out2" = "ok=$N fail=0 peer=$peer2:$N" ] &&
       [ "$sniffed" = "syn=$((2 * N)) other=0" ] && [ $((red1 - red0)) -eq $((2 * N)) ] &&
       [ $((notsyn1 - notsyn0)) -eq 0 ]; then
        pass "mix $name: $((2 * N)) connections echoed, peers $peer1 and $peer2, the LB saw only their $((2 * N)) SYNs"
    else
        fail "mix $name: expected ok=$N fail=0 peer=$peer1:$N, ok=$N fail=0 peer=$peer2:$N, syn=$((2 * N)) other=0"
    fi
}

mix "A (patched client, crab LB, crab TC server)" c1 198.19.0.1 198.18.0.21:80 198.19.0.2 198.18.0.21:8080
# crab's TC client keeps the VIP as the socket's peer and rewrites every packet; the patch moves the socket.
mix "B (crab TC client, crab LB, patched server)" c2 198.19.0.3 198.19.0.3:80 198.19.0.4 198.19.0.4:80
mix "C (patched client, crab LB, patched server)" c1 198.19.0.3 198.18.0.22:80 198.19.0.4 198.18.0.22:8080

# counter NS GROUP NAME: a counter of /proc/net/snmp or /proc/net/netstat (GROUP Tcp, TcpExt, ...) in NS.
counter() {
    in_ns "$1" cat /proc/net/snmp /proc/net/netstat |
        awk -v g="$2:" -v k="$3" '$1 == g { if (!h) { for (i = 2; i <= NF; i++) col[$i] = i; h = 1 }
                                            else { print $(col[k]); exit } }'
}

# forge SRC SPORT ACK VIP [VPORT]: a SYN-ACK with the option from the forger's host at the held connection.
forge_at() {
    local file=$1 src=$2 sport=$3 ack=$4; shift 4
    local client lport isn
    read -r client lport isn < "$file"
    in_ns fg "$KT" forge "$src" "$sport" "$client" "$lport" 777 $(((isn + ack) & 0xffffffff)) "$@"
}

# An established patched-client connection (to the patched server through the VIP) is not moved by late
# SYN-ACKs with the option, acknowledging its SYN or not, from a third address, from the VIP, and from its
# peer's own address; the connection still echoes and getpeername() is unchanged.
rm -f $W/hold*
in_ns c1 "$KT" hold 198.19.0.3 80 $W/hold > $W/hold.log 2>&1 &
holder=$!
for _ in $(seq 300); do [ -s $W/hold ] && break; sleep 0.1; done
sleep 1
rsts0=$(counter c1 Tcp OutRsts)
challenges0=$(counter c1 TcpExt TCPSYNChallenge)
forge_at $W/hold 198.18.0.66 80 1 198.19.0.3
forge_at $W/hold 198.18.0.66 80 9 198.19.0.3
forge_at $W/hold 198.18.0.66 8080 1 198.19.0.3 80
forge_at $W/hold 198.19.0.3 80 1 198.19.0.3
forge_at $W/hold 198.18.0.22 80 1 198.19.0.3
sleep 1
rsts=$(($(counter c1 Tcp OutRsts) - rsts0))
challenges=$(($(counter c1 TcpExt TCPSYNChallenge) - challenges0))
say "the client answered the forgeries with $rsts RSTs (no socket for the four not from its peer) and $challenges" \
    "SYN challenge(s) (RFC 5961, the one from its peer)"
touch $W/hold.go
if wait $holder && [ "$rsts" -ge 4 ] && [ "$challenges" -ge 1 ]; then
    pass "forged late SYN-ACKs (third address with and without the right ACK, length 6 and 8, from the VIP, from the peer) did not move an established connection: $(cat $W/hold.log)"
else
    fail "forged late SYN-ACKs moved or broke an established connection: $(cat $W/hold.log)"
fi

# A connecting socket (its VIP answers nothing) ignores a SYN-ACK with the option that acknowledges the wrong
# sequence, and follows one that acknowledges its SYN: the ACK check, shown from both sides. 198.18.0.77 is
# nobody's, so the connection is not reset afterwards.
rm -f $W/pend*
in_ns c1 "$KT" pending 198.19.0.9 80 $W/pend 198.18.0.77:80 > $W/pend.log 2>&1 &
pender=$!
for _ in $(seq 300); do [ -s $W/pend ] && break; sleep 0.1; done
# c1's TCP counters and its sockets to the unanswered VIP or the forged peer, for the log.
pending_state() {
    say "c1 $1: $(counter c1 Tcp OutRsts) RSTs sent;" \
        "$(in_ns c1 ss -tnaH | awk '$5 ~ /^198\.(19\.0\.9|18\.0\.77):/ { printf "%s %s -> %s; ", $1, $4, $5 }')"
}
say "c1 connecting from $(cut -d' ' -f1,2 $W/pend | tr ' ' :) to 198.19.0.9:80"
pending_state "before the forgeries"
forge_at $W/pend 198.18.0.77 80 2 198.19.0.9
pending_state "after the SYN-ACK acknowledging the wrong sequence"
touch $W/pend.go1
for _ in $(seq 300); do [ -e $W/pend.ack1 ] && break; sleep 0.1; done
forge_at $W/pend 198.18.0.77 80 1 198.19.0.9
pending_state "after the SYN-ACK acknowledging its SYN"
touch $W/pend.go2
pending_ok=0
wait $pender || pending_ok=$?
if [ "$pending_ok" -eq 0 ]; then
    pass "SYN-SENT: a SYN-ACK acknowledging the wrong sequence was ignored, the one acknowledging the SYN followed ($(tr '\n' ' ' < $W/pend.log))"
else
    fail "SYN-SENT ACK check: $(tr '\n' ' ' < $W/pend.log)"
fi

say "crab-lb status:"
in_ns lb java -cp "$JAR" io.crab.lb.CrabLb status --iface eth0 2>&1 | sed 's/^/    /' || true
say "total $(($(date +%s) - t0)) s, $failures failure(s)"
[ "$failures" -eq 0 ]
