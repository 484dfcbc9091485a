package io.crab.k8s;

import io.crab.agent.Parse;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;

import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What crab needs to know of the node it runs on to decide what it balances there, validated here once.
 *
 * @param nodeName    the node's name, as endpoints name theirs ({@code nodeName}): which endpoints are local.
 * @param zone        its {@code topology.kubernetes.io/zone} label, or empty when it has none (no topology hints).
 * @param nodeIps     the addresses that take NodePort traffic (kube-proxy's {@code --nodeport-addresses}), IPv4.
 * @param nodePortMin the cluster's NodePort range ({@code --service-node-port-range}), low end.
 * @param nodePortMax its high end; a nodePort outside the range is not balanced.
 * @param proxyName   crab's name for the {@code service.kubernetes.io/service-proxy-name} label: a service with
 *                    that label set to another name belongs to another proxy; null: every service with the label
 *                    does (kube-proxy's rule).
 */
public record NodeContext(String nodeName, String zone, List<Inet4Address> nodeIps, int nodePortMin, int nodePortMax,
    String proxyName)
{
    /** The API server's default {@code --service-node-port-range}. */
    public static final int DEFAULT_NODE_PORT_MIN = 30000;
    public static final int DEFAULT_NODE_PORT_MAX = 32767;

    public NodeContext
    {
        Objects.requireNonNull(nodeName, "nodeName");
        zone = zone == null ? "" : zone;
        nodeIps = List.copyOf(nodeIps);
        if (nodeName.isEmpty())
        {
            throw new IllegalArgumentException("node name is empty");
        }
        if (proxyName != null && proxyName.isEmpty())
        {
            throw new IllegalArgumentException("proxy name is empty");
        }
        if (nodePortMin < 1 || nodePortMax > 65535 || nodePortMin > nodePortMax)
        {
            throw new IllegalArgumentException("node port range " + nodePortMin + "-" + nodePortMax +
                " is not within 1-65535, low to high");
        }
        if (nodeIps.size() != nodeIps.stream().distinct().count())
        {
            throw new IllegalArgumentException("node IPs " + nodeIps + " name an address twice");
        }
    }

    /** A node with the default NodePort range. */
    public static NodeContext of(final String nodeName, final String zone, final List<Inet4Address> nodeIps,
        final String proxyName)
    {
        return new NodeContext(nodeName, zone, nodeIps, DEFAULT_NODE_PORT_MIN, DEFAULT_NODE_PORT_MAX, proxyName);
    }

    /** The label that names a node's zone, which topology hints refer to. */
    public static final String ZONE_LABEL = "topology.kubernetes.io/zone";

    /**
     * The node as its Node object describes it: its name, its zone label, and its IPv4 InternalIP and ExternalIP
     * addresses in the order of its status (the addresses a NodePort is reached on), each once.
     */
    public static NodeContext ofNode(final Node node, final int nodePortMin, final int nodePortMax,
        final String proxyName)
    {
        final Map<String, String> labels = node.getMetadata().getLabels();
        final List<Inet4Address> ips = new ArrayList<>();
        if (node.getStatus() != null && node.getStatus().getAddresses() != null)
        {
            for (final NodeAddress address : node.getStatus().getAddresses())
            {
                if ("InternalIP".equals(address.getType()) || "ExternalIP".equals(address.getType()))
                {
                    final Inet4Address ip = ipv4OrNull(address.getAddress());
                    if (ip != null && !ips.contains(ip))
                    {
                        ips.add(ip);
                    }
                }
            }
        }
        return new NodeContext(node.getMetadata().getName(), labels == null ? "" : labels.get(ZONE_LABEL), ips,
            nodePortMin, nodePortMax, proxyName);
    }

    private static Inet4Address ipv4OrNull(final String text)
    {
        try
        {
            return text == null ? null : Parse.ipv4(text);
        }
        catch (final IllegalArgumentException ex)
        {
            return null;
        }
    }

    public boolean inNodePortRange(final int port)
    {
        return port >= nodePortMin && port <= nodePortMax;
    }
}
