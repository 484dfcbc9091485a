package io.crab.bench.modes;

import io.crab.rig.Host;
import io.crab.rig.Topology;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.stream.Collectors;

/**
 * {@code l4-dnat}: the LB namespace forwards with stateful DNAT to a random backend and masquerades, the way
 * kube-proxy serves a NodePort; every packet of every connection crosses the LB both ways. All its work is the
 * LB's kernel work (receive, netfilter, forwarding), which the bench measures alike for every mode.
 */
public final class L4DnatMode implements BenchMode
{
    static final String TABLE = "crab_bench";

    private final Topology topology;
    private final InetSocketAddress target;

    public L4DnatMode(final Topology topology, final String vip, final int port)
    {
        this.topology = topology;
        this.target = new InetSocketAddress(vip, port);
        final List<Host> servers = topology.servers();
        final String map = servers.stream().map(s -> servers.indexOf(s) + " : " + s.ip())
            .collect(Collectors.joining(", "));
        final String rules = "table ip " + TABLE + " {\n" +
            "  chain prerouting {\n" +
            "    type nat hook prerouting priority dstnat; policy accept;\n" +
            "    ip daddr " + vip + " tcp dport " + port + " counter dnat to numgen random mod " + servers.size() +
            " map { " + map + " } : " + port + "\n" +
            "  }\n" +
            "  chain postrouting {\n" +
            "    type nat hook postrouting priority srcnat; policy accept;\n" +
            "    ct status dnat counter masquerade\n" +
            "  }\n" +
            "}\n";
        topology.exec(topology.lb(), "sysctl", "-qw", "net.ipv4.ip_forward=1");
        topology.exec(topology.lb(), "sh", "-c", "printf '%s' \"$0\" | nft -f -", rules);
    }

    @Override
    public String name()
    {
        return "l4-dnat";
    }

    @Override
    public InetSocketAddress target()
    {
        return target;
    }

    @Override
    public void close()
    {
        topology.exec(topology.lb(), "nft", "delete", "table", "ip", TABLE);
        topology.exec(topology.lb(), "sysctl", "-qw", "net.ipv4.ip_forward=0");
    }
}
