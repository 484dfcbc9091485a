package io.crab.lb;

import io.crab.agent.ConfigException;
import io.crab.agent.HostPort;
import io.crab.agent.OptionKind;
import io.crab.agent.feedback.FeedbackKey;
import io.crab.agent.metrics.MetricsServer;
import io.crab.bpf.Abi;
import io.crab.lb.config.BackendConfig;
import io.crab.lb.config.BackendState;
import io.crab.lb.config.ConfigLimits;
import io.crab.lb.config.LbConfig;
import io.crab.lb.config.ServiceConfig;
import io.crab.lb.config.ServicesFile;
import io.crab.lb.policy.MaglevTable;
import io.crab.lb.xdp.XdpModeOption;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Everything crab-lb is told, validated in one place before anything touches the kernel: the interface, where the
 * services come from (a services file, or the {@code --vip}/{@code --backends} shorthand, both read again on
 * reload), the map sizes, the option, the probe interval, the servers' load reports, where the metrics are
 * served ({@code metrics}: null, nowhere) and the XDP mode asked for.
 */
public record LbContext(String iface, ConfigSource source, LbConfig initial, Limits limits, boolean watch,
    OptionKind option, long healthIntervalNs, Feedback feedback, InetSocketAddress metrics, XdpModeOption xdpMode)
{
    /**
     * Where the servers' load reports arrive ({@code --feedback-port}, 0: nowhere, jsq and p2c then count only what
     * the LB gave each backend) and the key they must be signed with ({@code --feedback-key}; null: none).
     */
    public record Feedback(int port, FeedbackKey key)
    {
        public static final int DEFAULT_PORT = 4750;
        public static final Feedback DEFAULT = new Feedback(DEFAULT_PORT, null);

        public static Feedback of(final int port, final Path keyFile)
        {
            if (port < 0 || port > 65535)
            {
                throw new ConfigException("--feedback-port " + port + ": must be 1..65535, or 0 for no reports");
            }
            if (port == 0 && keyFile != null)
            {
                throw new ConfigException("--feedback-key needs a --feedback-port (0 takes no reports)");
            }
            return new Feedback(port, keyFile == null ? null : FeedbackKey.read(keyFile, "--feedback-key"));
        }
    }

    /** Most entries the slot tables may have in all, so a typo in a size cannot ask the kernel for gigabytes. */
    static final long MAX_SLOT_ENTRIES = 1L << 26;

    /**
     * Map sizes, fixed at load: services (VIPs), backends (distinct addresses and ports over all services), slots
     * per service table (the sum of a service's weights), the fallback's Maglev tables and connections, and the
     * clients ClientIP affinity remembers a backend for (one entry per client and affinity service).
     */
    public record Limits(int services, int backends, int slots, int maglevSize, int fallbackConnections,
        int affinityClients)
    {
        public static final Limits DEFAULT = new Limits(Abi.Consts.CRAB_MAX_VIPS, Abi.Consts.CRAB_MAX_BACKENDS,
            Abi.Consts.CRAB_MAX_SLOTS, Abi.Consts.CRAB_MAGLEV_SIZE, Abi.Consts.CRAB_CONN_TABLE_SIZE,
            Abi.Consts.CRAB_AFFINITY_TABLE_SIZE);

        public static Limits of(final int services, final int backends, final int slots, final int maglevSize,
            final int fallbackConnections, final int affinityClients)
        {
            if (services < 1 || services > 65536)
            {
                throw new ConfigException("--max-services " + services + ": must be 1..65536");
            }
            if (backends < 1 || backends > 65536)
            {
                throw new ConfigException("--max-backends " + backends + ": must be 1..65536");
            }
            if (slots < 1 || (long)services * 2 * slots > MAX_SLOT_ENTRIES)
            {
                throw new ConfigException("--max-slots " + slots + ": must be 1 or more, and --max-services x 2 x " +
                    "--max-slots at most " + MAX_SLOT_ENTRIES);
            }
            if (maglevSize < backends || maglevSize > MaglevTable.MAX_SIZE || !MaglevTable.isPrime(maglevSize) ||
                (long)services * 2 * maglevSize > MAX_SLOT_ENTRIES)
            {
                throw new ConfigException("--maglev-size " + maglevSize + ": must be a prime of at least " +
                    "--max-backends (" + backends + ") and at most " + MaglevTable.MAX_SIZE + ", and --max-services " +
                    "x 2 x --maglev-size at most " + MAX_SLOT_ENTRIES);
            }
            if (fallbackConnections < 1024 || fallbackConnections > 1 << 24)
            {
                throw new ConfigException("--max-fallback-connections " + fallbackConnections + ": must be 1024.." +
                    (1 << 24));
            }
            if (affinityClients < 1024 || affinityClients > 1 << 24)
            {
                throw new ConfigException("--max-affinity-clients " + affinityClients + ": must be 1024.." +
                    (1 << 24));
            }
            return new Limits(services, backends, slots, maglevSize, fallbackConnections, affinityClients);
        }

        /** What a configuration must fit: every distinct backend may also be all of one service's. */
        public ConfigLimits config()
        {
            return new ConfigLimits(services, backends, backends, slots);
        }

        /** The sizes of the LB object's maps that these limits set. */
        Map<String, Integer> mapSizes()
        {
            return Map.ofEntries(Map.entry(Abi.Maps.VIPS, services), Map.entry(Abi.Maps.RR_CURSORS, services),
                Map.entry(Abi.Maps.SERVICE_NAMES, services), Map.entry(Abi.Maps.VIP_SLOTS, services * 2 * slots),
                Map.entry(Abi.Maps.VIP_MEMBERS, services * 2 * slots), Map.entry(Abi.Maps.BACKENDS, backends),
                Map.entry(Abi.Maps.BACKEND_SYNS, backends), Map.entry(Abi.Maps.BACKEND_FALLBACKS, backends),
                Map.entry(Abi.Maps.BACKEND_ASSIGNED, backends), Map.entry(Abi.Maps.BACKEND_LOADS, backends),
                Map.entry(Abi.Maps.MAGLEV_TABLES, services * 2 * maglevSize),
                Map.entry(Abi.Maps.CONN_TABLE, fallbackConnections), Map.entry(Abi.Maps.AFFINITY, affinityClients));
        }
    }

    /**
     * Where the configuration comes from, read at start and at every reload: a file (the services file, or the
     * shorthand's backends file), or a source that is not a file and asks the agent for reloads itself
     * ({@link LbAgent#requestReload}), such as crab-k8s's cluster.
     */
    public interface ConfigSource
    {
        /** The whole configuration, validated; a ConfigException names the problem, and where (file and line). */
        LbConfig load();

        /** The file whose changes trigger a reload; null when the source is not a file. */
        Path file();

        /**
         * How a message about one backend starts, saying where it is written: {@code FILE:LINE: service NAME: } for
         * a services file, {@code FILE:LINE: } for the shorthand's backends file.
         */
        default String where(final ServiceConfig service, final BackendConfig backend)
        {
            return file() + ":" + backend.line() + ": " + (service.line() == 0 ? "" : "service " + service.name() +
                ": ");
        }
    }

    public static LbContext of(final String iface, final Path configFile, final List<String> vipTexts,
        final Path backendsFile, final Policy policy, final boolean redirectUnmarked, final Limits limits,
        final boolean watch, final OptionKind option, final long healthIntervalMs, final Feedback feedback)
    {
        checkIfaceAndInterval(iface, healthIntervalMs);
        final ConfigSource source;
        if (configFile != null)
        {
            if (vipTexts != null || backendsFile != null)
            {
                throw new ConfigException("--config replaces --vip and --backends: give one or the other");
            }
            source = new ConfigSource()
            {
                @Override
                public LbConfig load()
                {
                    return ServicesFile.read(configFile, limits.config());
                }

                @Override
                public Path file()
                {
                    return configFile;
                }
            };
        }
        else
        {
            if (vipTexts == null || vipTexts.isEmpty())
            {
                throw new ConfigException("--vip is required (A.B.C.D[:PORT], repeatable), or --config FILE");
            }
            if (backendsFile == null)
            {
                throw new ConfigException("--backends FILE is required with --vip");
            }
            final List<HostPort> vips = HostPort.parseVips(vipTexts);
            if (vips.stream().distinct().count() != vips.size())
            {
                throw new ConfigException("--vip: the same VIP is given twice");
            }
            source = new ConfigSource()
            {
                @Override
                public LbConfig load()
                {
                    return withinLimits(LbConfig.fromFlags(vips, BackendsFile.read(backendsFile), policy,
                        redirectUnmarked), backendsFile, limits);
                }

                @Override
                public Path file()
                {
                    return backendsFile;
                }
            };
        }
        return of(iface, source, limits, watch, option, healthIntervalMs, feedback);
    }

    /**
     * crab-lb on a configuration source of the caller's, read once here for the first configuration; {@code watch}
     * only for a source that is a file.
     */
    public static LbContext of(final String iface, final ConfigSource source, final Limits limits,
        final boolean watch, final OptionKind option, final long healthIntervalMs, final Feedback feedback)
    {
        checkIfaceAndInterval(iface, healthIntervalMs);
        if (watch && source.file() == null)
        {
            throw new IllegalArgumentException("a configuration source that is not a file cannot be watched");
        }
        return new LbContext(iface, source, source.load(), limits, watch, option, healthIntervalMs * 1_000_000L,
            feedback, null, XdpModeOption.AUTO);
    }

    /** Checked first, before any file is read. */
    private static void checkIfaceAndInterval(final String iface, final long healthIntervalMs)
    {
        if (iface == null || iface.isBlank())
        {
            throw new ConfigException("--iface is required");
        }
        if (healthIntervalMs < 100)
        {
            throw new ConfigException("--health-interval-ms must be at least 100");
        }
    }

    /** The same, with the metrics served at {@code address} ({@link MetricsServer#parseAddress}; null: nowhere). */
    public LbContext withMetrics(final InetSocketAddress address)
    {
        return new LbContext(iface, source, initial, limits, watch, option, healthIntervalNs, feedback, address,
            xdpMode);
    }

    /** The same, with {@code --xdp-mode} ({@link XdpModeOption#AUTO} unless given). */
    public LbContext withXdpMode(final XdpModeOption mode)
    {
        return new LbContext(iface, source, initial, limits, watch, option, healthIntervalNs, feedback, metrics, mode);
    }

    /** The shorthand's checks: the services file checks the same limits line by line as it reads. */
    private static LbConfig withinLimits(final LbConfig config, final Path backendsFile, final Limits limits)
    {
        if (config.services().size() > limits.services())
        {
            throw new ConfigException("--vip: at most " + limits.services() + " VIPs (--max-services)");
        }
        for (final ServiceConfig service : config.services())
        {
            for (final BackendConfig b : service.backends())
            {
                if (service.vip().anyPort() && !b.target().anyPort())
                {
                    throw ConfigException.at(backendsFile, b.line(), "backend " + b.target() + " names a port but " +
                        "VIP " + service.vip() + " balances every port; give the VIP a port to redirect ports");
                }
            }
        }
        final ServiceConfig any = config.services().get(0);
        if (any.backends().size() > limits.backends())
        {
            throw new ConfigException(backendsFile + ": at most " + limits.backends() + " backends (--max-backends)");
        }
        final int slots = any.backends().stream().filter(b -> b.state() == BackendState.ACTIVE)
            .mapToInt(BackendConfig::weight).sum();
        if (slots > limits.slots())
        {
            throw new ConfigException(backendsFile + ": weights add up to " + slots + ", at most " + limits.slots() +
                " fit a service's slot table (--max-slots)");
        }
        return config;
    }
}
