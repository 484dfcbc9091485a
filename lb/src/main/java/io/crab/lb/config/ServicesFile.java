package io.crab.lb.config;

import io.crab.agent.Cidr;
import io.crab.agent.ConfigException;
import io.crab.agent.HostPort;
import io.crab.agent.Parse;
import io.crab.lb.BackendsFile;
import io.crab.bpf.Abi;
import io.crab.lb.Policy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The services file ({@code crab-lb --config FILE}): blocks that each start with {@code service NAME}, one setting
 * per line.
 * <pre>
 * service web
 *     vip 198.19.0.1:80
 *     policy rr
 *     redirect-unmarked
 *     fallback translate
 *     affinity client-ip 3h
 *     allow-from 198.18.0.0/24, 198.18.5.7/32
 *     no-backend drop
 *     backend 198.18.0.101 weight 2
 *     backend 198.18.0.102:8080 draining
 * </pre>
 * Reading is all or nothing and stops at the first error met reading down the file. An error is one line,
 * {@code file:line: problem}; a problem found between two lines is reported at the second and names the first,
 * and a service without a vip is reported at its {@code service} line once its block has been read.
 */
public final class ServicesFile
{
    /** Service names stay short and plain, so they are safe in a log line, a metric name or a file name. */
    private static final int MAX_NAME_LENGTH = 32;
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]*");
    /** The keywords of the lines inside a service block. */
    private static final Set<String> SETTINGS = Set.of("vip", "policy", "redirect-unmarked", "fallback", "affinity",
        "allow-from", "no-backend", "backend");
    /** Prefixes of an allow-from line: separated by commas, spaces or both. */
    private static final Pattern PREFIX_SEPARATOR = Pattern.compile("\\s*,\\s*|\\s+");
    private static final String SERVICE_USAGE = "service NAME";
    private static final String VIP_USAGE = "vip A.B.C.D[:PORT]";
    private static final String POLICY_USAGE = "policy rr|random|hash|jsq|p2c";
    private static final String REDIRECT_UNMARKED_USAGE = "redirect-unmarked";
    private static final String FALLBACK_USAGE = "fallback dsr|translate";
    private static final String AFFINITY_USAGE = "affinity none|client-ip [TIMEOUT]";
    private static final String ALLOW_FROM_USAGE = "allow-from A.B.C.D/N[,A.B.C.D/N...]";
    private static final String NO_BACKEND_USAGE = "no-backend pass|drop";
    private static final String BACKEND_USAGE = "backend IP[:PORT] [weight N] [draining]";

    private final Path file;
    private final ConfigLimits limits;
    private final List<ServiceConfig> services = new ArrayList<>();
    private final Map<String, Integer> serviceLines = new HashMap<>();
    private final Set<HostPort> distinctBackends = new HashSet<>();
    private int sourceRanges;
    private Block block;

    private ServicesFile(final Path file, final ConfigLimits limits)
    {
        this.file = file;
        this.limits = limits;
    }

    /** Reads and validates the whole file; a {@link ConfigException} names the first problem, nothing is kept. */
    public static LbConfig read(final Path file, final ConfigLimits limits)
    {
        return new ServicesFile(file, limits).parse(ConfigFile.lines(file));
    }

    private LbConfig parse(final List<String> lines)
    {
        for (int i = 0; i < lines.size(); i++)
        {
            final int lineNo = i + 1;
            String text = lines.get(i);
            final int hash = text.indexOf('#');
            if (hash >= 0)
            {
                text = text.substring(0, hash);
            }
            text = text.strip();
            if (!text.isEmpty())
            {
                parseLine(lineNo, text.split("\\s+"));
            }
        }
        endBlock();
        if (services.isEmpty())
        {
            throw new ConfigException(file + ": no services (a service starts with '" + SERVICE_USAGE + "')");
        }
        return new LbConfig(services);
    }

    private void parseLine(final int line, final String[] fields)
    {
        final String keyword = fields[0];
        if ("service".equals(keyword))
        {
            endBlock();
            startBlock(line, fields);
            return;
        }
        if (!SETTINGS.contains(keyword))
        {
            throw error(line, "unknown keyword '" + keyword + "' (expected service, vip, policy, redirect-unmarked, " +
                "fallback, affinity, allow-from, no-backend or backend)");
        }
        if (block == null)
        {
            throw error(line, "'" + keyword + "' outside a service (start one with '" + SERVICE_USAGE + "')");
        }
        switch (keyword)
        {
            case "vip" -> parseVip(line, fields);
            case "policy" -> parsePolicy(line, fields);
            case "redirect-unmarked" -> parseRedirectUnmarked(line, fields);
            case "fallback" -> parseFallback(line, fields);
            case "affinity" -> parseAffinity(line, fields);
            case "allow-from" -> parseAllowFrom(line, fields);
            case "no-backend" -> parseNoBackend(line, fields);
            default -> parseBackend(line, fields);
        }
    }

    private void startBlock(final int line, final String[] fields)
    {
        if (fields.length != 2)
        {
            throw error(line, "expected '" + SERVICE_USAGE + "'");
        }
        final String name = fields[1];
        if (!NAME.matcher(name).matches())
        {
            throw error(line, "service name '" + name + "' may have only a-z, 0-9 and '-', and not start with '-'");
        }
        if (name.length() > MAX_NAME_LENGTH)
        {
            throw error(line, "service name '" + name + "' is longer than " + MAX_NAME_LENGTH + " characters");
        }
        final Integer first = serviceLines.putIfAbsent(name, line);
        if (first != null)
        {
            throw error(line, "service " + name + " is defined twice (first at line " + first + ")");
        }
        if (services.size() == limits.maxServices())
        {
            throw error(line, "service " + name + ": too many services (at most " + limits.maxServices() + ")");
        }
        block = new Block(name, line);
    }

    private void endBlock()
    {
        if (block == null)
        {
            return;
        }
        if (block.vip == null)
        {
            throw error(block.line, "no vip (expected one '" + VIP_USAGE + "' line)");
        }
        services.add(new ServiceConfig(block.name, block.vip, block.policy, block.redirectUnmarked, block.fallback,
            block.affinitySeconds, List.copyOf(block.allowFrom.keySet()), block.noBackend, block.backends,
            block.line));
        block = null;
    }

    private void parseVip(final int line, final String[] fields)
    {
        if (fields.length != 2)
        {
            throw error(line, "expected '" + VIP_USAGE + "'");
        }
        if (block.vip != null)
        {
            throw error(line, "vip given twice (first at line " + block.vipLine + ")");
        }
        final HostPort vip = address(line, "vip", fields[1]);
        for (final ServiceConfig other : services)
        {
            if (other.vip().equals(vip))
            {
                throw error(line, "vip " + vip + " is already service " + other.name() + "'s (line " +
                    other.line() + ")");
            }
            if (other.vip().address().equals(vip.address()) && (other.vip().anyPort() || vip.anyPort()))
            {
                throw error(line, "vip " + vip + " overlaps service " + other.name() + "'s vip " + other.vip() +
                    " (line " + other.line() + "); a vip without a port takes every port of its address");
            }
        }
        if (vip.anyPort())
        {
            for (final BackendConfig backend : block.backends)
            {
                if (!backend.target().anyPort())
                {
                    throw error(line, "vip " + vip + " balances every port but backend " + backend.target() +
                        " (line " + backend.line() + ") names a port; give the vip a port to redirect ports");
                }
            }
        }
        block.vip = vip;
        block.vipLine = line;
    }

    private void parsePolicy(final int line, final String[] fields)
    {
        if (fields.length != 2)
        {
            throw error(line, "expected '" + POLICY_USAGE + "'");
        }
        if (block.policyLine != 0)
        {
            throw error(line, "policy given twice (first at line " + block.policyLine + ")");
        }
        block.policy = policy(line, fields[1]);
        block.policyLine = line;
    }

    private void parseRedirectUnmarked(final int line, final String[] fields)
    {
        if (fields.length != 1)
        {
            throw error(line, "expected '" + REDIRECT_UNMARKED_USAGE + "' alone");
        }
        if (block.redirectUnmarked)
        {
            throw error(line, "redirect-unmarked given twice (first at line " + block.redirectUnmarkedLine + ")");
        }
        block.redirectUnmarked = true;
        block.redirectUnmarkedLine = line;
    }

    private void parseFallback(final int line, final String[] fields)
    {
        if (fields.length != 2)
        {
            throw error(line, "expected '" + FALLBACK_USAGE + "'");
        }
        if (block.fallbackLine != 0)
        {
            throw error(line, "fallback given twice (first at line " + block.fallbackLine + ")");
        }
        block.fallback = FallbackMode.ofWord(fields[1]).orElseThrow(() -> error(line, "unknown fallback '" +
            fields[1] + "' (expected dsr or translate)"));
        block.fallbackLine = line;
    }

    /** {@code affinity none}, or {@code affinity client-ip} and a timeout of whole seconds up to a day (else 3h). */
    private void parseAffinity(final int line, final String[] fields)
    {
        if (fields.length < 2 || fields.length > 3 || ("none".equals(fields[1]) && fields.length == 3))
        {
            throw error(line, "expected '" + AFFINITY_USAGE + "'");
        }
        if (block.affinityLine != 0)
        {
            throw error(line, "affinity given twice (first at line " + block.affinityLine + ")");
        }
        if ("client-ip".equals(fields[1]))
        {
            block.affinitySeconds = fields.length == 2 ? ServiceConfig.DEFAULT_AFFINITY_SECONDS :
                affinityTimeout(line, fields[2]);
        }
        else if (!"none".equals(fields[1]))
        {
            throw error(line, "unknown affinity '" + fields[1] + "' (expected none or client-ip)");
        }
        block.affinityLine = line;
    }

    private int affinityTimeout(final int line, final String text)
    {
        final Duration timeout;
        try
        {
            timeout = Parse.duration(text);
        }
        catch (final IllegalArgumentException ex)
        {
            throw error(line, "affinity timeout " + ex.getMessage());
        }
        if (timeout.isZero() || timeout.toMillis() % 1000 != 0 ||
            timeout.getSeconds() > ServiceConfig.MAX_AFFINITY_SECONDS)
        {
            throw error(line, "affinity timeout '" + text + "': must be whole seconds from 1s to 24h");
        }
        return (int)timeout.getSeconds();
    }

    /** One or more prefixes; a service may have several such lines, and admits the clients of all of them. */
    private void parseAllowFrom(final int line, final String[] fields)
    {
        final String list = String.join(" ", List.of(fields).subList(1, fields.length));
        final String[] prefixes = PREFIX_SEPARATOR.split(list, -1);
        if (list.isEmpty() || List.of(prefixes).contains(""))
        {
            throw error(line, "expected '" + ALLOW_FROM_USAGE + "'");
        }
        for (final String text : prefixes)
        {
            final Cidr prefix;
            try
            {
                prefix = Cidr.parse(text);
            }
            catch (final IllegalArgumentException ex)
            {
                throw error(line, "allow-from " + ex.getMessage());
            }
            final Integer first = block.allowFrom.putIfAbsent(prefix, line);
            if (first != null)
            {
                throw error(line, "allow-from " + prefix + " is listed twice (first at line " + first + ")");
            }
            if (++sourceRanges > Abi.Consts.CRAB_MAX_SOURCE_RANGES)
            {
                throw error(line, "allow-from " + prefix + ": too many prefixes (at most " +
                    Abi.Consts.CRAB_MAX_SOURCE_RANGES + " over all services)");
            }
        }
    }

    private void parseNoBackend(final int line, final String[] fields)
    {
        if (fields.length != 2)
        {
            throw error(line, "expected '" + NO_BACKEND_USAGE + "'");
        }
        if (block.noBackendLine != 0)
        {
            throw error(line, "no-backend given twice (first at line " + block.noBackendLine + ")");
        }
        block.noBackend = NoBackendAction.ofWord(fields[1]).orElseThrow(() -> error(line, "unknown no-backend '" +
            fields[1] + "' (expected pass or drop)"));
        block.noBackendLine = line;
    }

    private void parseBackend(final int line, final String[] fields)
    {
        if (fields.length < 2)
        {
            throw error(line, "expected '" + BACKEND_USAGE + "'");
        }
        final HostPort target = address(line, "backend", fields[1]);
        int weight = 1;
        boolean weightGiven = false;
        BackendState state = BackendState.ACTIVE;
        for (int f = 2; f < fields.length; f++)
        {
            if ("weight".equals(fields[f]))
            {
                if (weightGiven)
                {
                    throw error(line, "weight given twice");
                }
                if (f + 1 == fields.length)
                {
                    throw error(line, "weight needs a number: '" + BACKEND_USAGE + "'");
                }
                weight = weight(line, fields[++f]);
                weightGiven = true;
            }
            else if ("draining".equals(fields[f]))
            {
                if (state == BackendState.DRAINING)
                {
                    throw error(line, "draining given twice");
                }
                state = BackendState.DRAINING;
            }
            else
            {
                throw error(line, "unknown backend option '" + fields[f] + "' (expected weight N or draining)");
            }
        }
        for (final BackendConfig other : block.backends)
        {
            if (other.target().equals(target))
            {
                throw error(line, "backend " + target + " is listed twice (first at line " + other.line() + ")");
            }
        }
        if (block.vip != null && block.vip.anyPort() && !target.anyPort())
        {
            throw error(line, "backend " + target + " names a port but vip " + block.vip + " balances every port; " +
                "give the vip a port to redirect ports");
        }
        if (block.backends.size() == limits.maxBackendsPerService())
        {
            throw error(line, "too many backends (at most " + limits.maxBackendsPerService() + " per service)");
        }
        if (!distinctBackends.contains(target) && distinctBackends.size() == limits.maxDistinctBackends())
        {
            throw error(line, "backend " + target + ": too many distinct backends (at most " +
                limits.maxDistinctBackends() + " over all services)");
        }
        if (state == BackendState.ACTIVE)
        {
            block.activeWeight += weight;
            if (block.activeWeight > limits.maxSlotsPerService())
            {
                throw error(line, "weights of active backends add up to " + block.activeWeight + ", more than the " +
                    limits.maxSlotsPerService() + " slots of a service");
            }
        }
        distinctBackends.add(target);
        block.backends.add(new BackendConfig(target, weight, state, line));
    }

    private HostPort address(final int line, final String keyword, final String text)
    {
        try
        {
            return HostPort.parse(text);
        }
        catch (final IllegalArgumentException ex)
        {
            throw error(line, keyword + " " + ex.getMessage());
        }
    }

    private Policy policy(final int line, final String text)
    {
        try
        {
            return Policy.parse(text);
        }
        catch (final IllegalArgumentException ex)
        {
            throw error(line, ex.getMessage());
        }
    }

    private int weight(final int line, final String text)
    {
        try
        {
            return BackendsFile.parseWeight(text);
        }
        catch (final IllegalArgumentException ex)
        {
            throw error(line, ex.getMessage());
        }
    }

    /** Inside a block the problem names its service, so a message stands alone in a log. */
    private ConfigException error(final int line, final String problem)
    {
        return ConfigException.at(file, line, block == null ? problem : "service " + block.name + ": " + problem);
    }

    /** The service being read: what its lines said so far, and where. */
    private static final class Block
    {
        final String name;
        final int line;
        final List<BackendConfig> backends = new ArrayList<>();
        HostPort vip;
        int vipLine;
        Policy policy = Policy.RR;
        int policyLine;
        boolean redirectUnmarked;
        int redirectUnmarkedLine;
        FallbackMode fallback = FallbackMode.DSR;
        int fallbackLine;
        int affinitySeconds;
        int affinityLine;
        /** Allowed prefixes in file order, with the line of each. */
        final Map<Cidr, Integer> allowFrom = new LinkedHashMap<>();
        NoBackendAction noBackend = NoBackendAction.PASS;
        int noBackendLine;
        int activeWeight;

        Block(final String name, final int line)
        {
            this.name = name;
            this.line = line;
        }
    }
}
