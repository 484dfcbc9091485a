package io.crab.endpoint;

import io.crab.agent.ConfigException;
import io.crab.agent.Cidr;
import io.crab.agent.HostPort;
import io.crab.agent.OptionKind;
import io.crab.agent.feedback.FeedbackKey;
import io.crab.agent.metrics.MetricsServer;
import io.crab.bpf.Abi;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything crab-endpoint is told, validated in one place before anything touches the kernel.
 *
 * @param backendCidrs  per VIP, the prefixes a redirect may name as the backend; a VIP not in the map takes any.
 * @param flowTableSize a client's flow tables (connections pending or redirected at once); a server has none
 *                      (its echo memory is a fixed direct-mapped table of CRAB_ECHO_SLOTS)
 * @param maxVips       a client's VIP table; the VIPs can change while it runs ({@link EndpointAgent#vips})
 * @param reporting     a server's load reports to crab-lb; null: it reports nothing (and always for a client)
 * @param metrics       where the metrics are served ({@code --metrics-address}); null: nowhere
 */
public record EndpointContext(EndpointAgent.Role role, String iface, OptionKind option, List<HostPort> vips,
    Map<HostPort, List<Cidr>> backendCidrs, int flowTableSize, int maxVips, LoadReporting reporting,
    InetSocketAddress metrics)
{
    /** Smallest flow table worth having; the largest is what the kernel will allocate. */
    public static final int MIN_FLOW_TABLE_SIZE = 1024;
    public static final int MAX_FLOW_TABLE_SIZE = 1 << 24;

    public static EndpointContext server(final String iface, final OptionKind option)
    {
        return server(iface, option, null, null, null, null, null);
    }

    /**
     * A server that reports its load to every {@code --report-to LB_ADDR:PORT} ({@code reportTo}, null or empty: it
     * reports nothing, and the other reporting options are refused); {@code reportHz} null is the default rate.
     */
    public static EndpointContext server(final String iface, final OptionKind option, final List<String> reportTo,
        final Integer reportHz, final String reportFrom, final Path feedbackKey, final Path loadSocket)
    {
        final String checkedIface = requireIface(iface);
        return new EndpointContext(EndpointAgent.Role.SERVER, checkedIface, option, List.of(), Map.of(),
            Abi.Consts.CRAB_SYN_TABLE_SIZE, 0, reporting(reportTo, reportHz, reportFrom, feedbackKey, loadSocket),
            null);
    }

    /**
     * A pod's client or server, configured by a program rather than a command line ({@code PodEndpoints}, whose
     * context checked the sizes): no backend prefixes, no load reports, no metrics of its own. A client may
     * start with no VIPs and be given them while it runs.
     */
    public static EndpointContext pod(final EndpointAgent.Role role, final String iface, final OptionKind option,
        final List<HostPort> vips, final int flowTableSize, final int maxVips)
    {
        final boolean client = role == EndpointAgent.Role.CLIENT;
        return new EndpointContext(role, requireIface(iface), option, client ? List.copyOf(vips) : List.of(),
            Map.of(), flowTableSize, client ? maxVips : 0, null, null);
    }

    /** The same, with the metrics served at {@code address} ({@link MetricsServer#parseAddress}; null: nowhere). */
    public EndpointContext withMetrics(final InetSocketAddress address)
    {
        return new EndpointContext(role, iface, option, vips, backendCidrs, flowTableSize, maxVips, reporting,
            address);
    }

    private static LoadReporting reporting(final List<String> reportTo, final Integer reportHz,
        final String reportFrom, final Path feedbackKey, final Path loadSocket)
    {
        if (reportTo == null || reportTo.isEmpty())
        {
            final String without = reportHz != null ? "--report-hz" : reportFrom != null ? "--report-from" :
                feedbackKey != null ? "--feedback-key" : loadSocket != null ? "--load-socket" : null;
            if (without != null)
            {
                throw new ConfigException(without + " needs --report-to LB_ADDR:PORT (no load is reported without it)");
            }
            return null;
        }
        if (reportTo.size() > LoadReporting.MAX_DESTINATIONS)
        {
            throw new ConfigException("--report-to: at most " + LoadReporting.MAX_DESTINATIONS + " LBs");
        }
        final List<InetSocketAddress> destinations = new ArrayList<>();
        for (final String text : reportTo)
        {
            final HostPort lb;
            try
            {
                lb = HostPort.parse(text);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new ConfigException("--report-to " + ex.getMessage());
            }
            if (lb.anyPort())
            {
                throw new ConfigException("--report-to " + text + ": expected LB_ADDR:PORT (crab-lb's " +
                    "--feedback-port, 4750 by default)");
            }
            final InetSocketAddress destination = new InetSocketAddress(lb.address(), lb.port());
            if (destinations.contains(destination))
            {
                throw new ConfigException("--report-to " + text + ": given twice");
            }
            destinations.add(destination);
        }
        final int hz = reportHz == null ? LoadReporting.DEFAULT_HZ : reportHz;
        if (hz < LoadReporting.MIN_HZ || hz > LoadReporting.MAX_HZ)
        {
            throw new ConfigException("--report-hz " + hz + ": must be " + LoadReporting.MIN_HZ + ".." +
                LoadReporting.MAX_HZ);
        }
        Inet4Address from = null;
        if (reportFrom != null)
        {
            try
            {
                from = HostPort.parseIpv4(reportFrom, reportFrom);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new ConfigException("--report-from " + ex.getMessage());
            }
        }
        return new LoadReporting(List.copyOf(destinations), hz, from,
            feedbackKey == null ? null : FeedbackKey.read(feedbackKey, "--feedback-key"), checkLoadSocket(loadSocket));
    }

    /** The socket's directory must exist, and nothing but a socket an earlier run left may be in its place. */
    private static Path checkLoadSocket(final Path loadSocket)
    {
        if (loadSocket == null)
        {
            return null;
        }
        final Path absolute = loadSocket.toAbsolutePath();
        if (!Files.isDirectory(absolute.getParent()))
        {
            throw new ConfigException("--load-socket " + loadSocket + ": no directory " + absolute.getParent());
        }
        try
        {
            final BasicFileAttributes attributes =
                Files.readAttributes(absolute, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!attributes.isOther())
            {
                throw new ConfigException("--load-socket " + loadSocket + ": exists and is not a socket; give a " +
                    "path of its own");
            }
        }
        catch (final NoSuchFileException ex)
        {
            // the usual case: the agent creates it
        }
        catch (final IOException ex)
        {
            throw new ConfigException("--load-socket " + loadSocket + ": " + ex.getMessage());
        }
        // The longest path a sockaddr_un holds: 107 bytes and a terminating zero.
        if (absolute.toString().getBytes(StandardCharsets.UTF_8).length > 107)
        {
            throw new ConfigException("--load-socket " + loadSocket + ": longer than the 107 bytes a Unix socket " +
                "path may have");
        }
        return absolute;
    }

    /** {@code cidrTexts}: {@code VIP[:PORT]=CIDR[,CIDR...]}, each VIP one of {@code vipTexts}. */
    public static EndpointContext client(final String iface, final OptionKind option, final List<String> vipTexts,
        final List<String> cidrTexts, final int flowTableSize)
    {
        if (vipTexts == null || vipTexts.isEmpty())
        {
            throw new ConfigException("--vip is required (A.B.C.D[:PORT], repeatable)");
        }
        final List<HostPort> vips = HostPort.parseVips(vipTexts);
        if (vips.size() > Abi.Consts.CRAB_MAX_VIPS)
        {
            throw new ConfigException("--vip: at most " + Abi.Consts.CRAB_MAX_VIPS + " VIPs");
        }
        if (vips.stream().distinct().count() != vips.size())
        {
            throw new ConfigException("--vip: the same VIP is given twice");
        }
        if (flowTableSize < MIN_FLOW_TABLE_SIZE || flowTableSize > MAX_FLOW_TABLE_SIZE)
        {
            throw new ConfigException("--flow-table-size " + flowTableSize + ": must be " + MIN_FLOW_TABLE_SIZE +
                ".." + MAX_FLOW_TABLE_SIZE);
        }
        final Map<HostPort, List<Cidr>> cidrs = new LinkedHashMap<>();
        int total = 0;
        for (final String text : cidrTexts == null ? List.<String>of() : cidrTexts)
        {
            final int eq = text.indexOf('=');
            if (eq < 0)
            {
                throw new ConfigException("--backends-cidr " + text + ": expected VIP[:PORT]=CIDR[,CIDR...]");
            }
            final HostPort vip;
            try
            {
                vip = HostPort.parse(text.substring(0, eq));
            }
            catch (final IllegalArgumentException ex)
            {
                throw new ConfigException("--backends-cidr " + ex.getMessage());
            }
            if (!vips.contains(vip))
            {
                throw new ConfigException("--backends-cidr " + text + ": " + vip + " is not one of the --vip values");
            }
            if (cidrs.containsKey(vip))
            {
                throw new ConfigException("--backends-cidr " + text + ": " + vip + " is given twice");
            }
            final List<Cidr> list = new ArrayList<>();
            for (final String part : text.substring(eq + 1).split(",", -1))
            {
                try
                {
                    list.add(Cidr.parse(part));
                }
                catch (final IllegalArgumentException ex)
                {
                    throw new ConfigException("--backends-cidr " + ex.getMessage());
                }
            }
            cidrs.put(vip, List.copyOf(list));
            total += list.size();
        }
        if (total + vips.size() > Abi.Consts.CRAB_MAX_BACKEND_CIDRS)
        {
            throw new ConfigException("--backends-cidr: at most " + Abi.Consts.CRAB_MAX_BACKEND_CIDRS +
                " prefixes in all");
        }
        return new EndpointContext(EndpointAgent.Role.CLIENT, requireIface(iface), option, vips, Map.copyOf(cidrs),
            flowTableSize, Abi.Consts.CRAB_MAX_VIPS, null, null);
    }

    /** The prefixes of {@code vip}: its own, or 0.0.0.0/0 when none were given. */
    public List<Cidr> cidrsOf(final HostPort vip)
    {
        return backendCidrs.getOrDefault(vip, List.of(Cidr.ANY));
    }

    private static String requireIface(final String iface)
    {
        if (iface == null || iface.isBlank())
        {
            throw new ConfigException("--iface is required");
        }
        return iface;
    }
}
