package io.crab.endpoint;

import io.crab.agent.ConfigException;
import io.crab.agent.HostPort;
import io.crab.agent.OptionKind;
import io.crab.bpf.Abi;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything crab-endpoint is told, validated in one place before anything touches the kernel.
 *
 * @param backendCidrs per VIP, the prefixes a redirect may name as the backend; a VIP not in the map takes any.
 */
public record EndpointContext(EndpointAgent.Role role, String iface, OptionKind option, List<HostPort> vips,
    Map<HostPort, List<Cidr>> backendCidrs, int flowTableSize)
{
    /** Smallest flow table worth having; the largest is what the kernel will allocate. */
    public static final int MIN_FLOW_TABLE_SIZE = 1024;
    public static final int MAX_FLOW_TABLE_SIZE = 1 << 24;

    public static EndpointContext server(final String iface, final OptionKind option)
    {
        return new EndpointContext(EndpointAgent.Role.SERVER, requireIface(iface), option, List.of(), Map.of(), 0);
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
            flowTableSize);
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
