package io.crab.lb;

import io.crab.agent.ConfigException;
import io.crab.agent.HostPort;
import io.crab.agent.OptionKind;
import io.crab.bpf.Abi;

import java.nio.file.Path;
import java.util.List;

/** Everything crab-lb is told, validated in one place before anything touches the kernel. */
public record LbContext(String iface, List<HostPort> vips, Path backendsFile, List<BackendsFile.Backend> backends,
    Policy policy, boolean redirectUnmarked, OptionKind option, long healthIntervalNs)
{
    public static LbContext of(final String iface, final List<String> vipTexts, final Path backendsFile,
        final Policy policy, final boolean redirectUnmarked, final OptionKind option, final long healthIntervalMs)
    {
        if (iface == null || iface.isBlank())
        {
            throw new ConfigException("--iface is required");
        }
        if (vipTexts == null || vipTexts.isEmpty())
        {
            throw new ConfigException("--vip is required (A.B.C.D[:PORT], repeatable)");
        }
        if (backendsFile == null)
        {
            throw new ConfigException("--backends FILE is required");
        }
        if (vipTexts.size() > Abi.Consts.CRAB_MAX_VIPS)
        {
            throw new ConfigException("at most " + Abi.Consts.CRAB_MAX_VIPS + " VIPs");
        }
        if (healthIntervalMs < 100)
        {
            throw new ConfigException("--health-interval-ms must be at least 100");
        }
        final List<HostPort> vips = HostPort.parseVips(vipTexts);
        if (vips.stream().distinct().count() != vips.size())
        {
            throw new ConfigException("--vip: the same VIP is given twice");
        }
        final List<BackendsFile.Backend> backends = BackendsFile.read(backendsFile);
        if (backends.size() > Abi.Consts.CRAB_MAX_BACKENDS)
        {
            throw new ConfigException(backendsFile + ": at most " + Abi.Consts.CRAB_MAX_BACKENDS + " backends");
        }
        final int slots = backends.stream().mapToInt(BackendsFile.Backend::weight).sum();
        if (slots > Abi.Consts.CRAB_MAX_SLOTS)
        {
            throw new ConfigException(backendsFile + ": weights add up to " + slots + ", at most " +
                Abi.Consts.CRAB_MAX_SLOTS + " fit a VIP's slot table");
        }
        for (final HostPort vip : vips)
        {
            for (final BackendsFile.Backend b : backends)
            {
                if (vip.anyPort() && !b.target().anyPort())
                {
                    throw ConfigException.at(backendsFile, b.line(), "backend " + b.target() + " names a port " +
                        "but VIP " + vip + " balances every port; give the VIP a port to redirect ports");
                }
            }
        }
        return new LbContext(iface, vips, backendsFile, backends, policy, redirectUnmarked, option,
            healthIntervalMs * 1_000_000L);
    }
}
