package io.crab.lb;

import io.crab.agent.ConfigException;
import io.crab.agent.HostPort;
import io.crab.lb.config.ConfigFile;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The backends file: one backend per line, {@code IP[:PORT] [weight=N]}, with {@code #} comments and blank
 * lines. Parsing is all or nothing: the first error names the file, the line and the problem.
 */
public final class BackendsFile
{
    public static final int MAX_WEIGHT = 100;

    private BackendsFile()
    {
    }

    public record Backend(HostPort target, int weight, int line)
    {
    }

    public static List<Backend> read(final Path file)
    {
        final List<String> lines = ConfigFile.lines(file);
        final List<Backend> backends = new ArrayList<>();
        final Set<HostPort> seen = new HashSet<>();
        for (int i = 0; i < lines.size(); i++)
        {
            final int lineNo = i + 1;
            String text = lines.get(i);
            final int hash = text.indexOf('#');
            if (hash >= 0)
            {
                text = text.substring(0, hash);
            }
            text = text.trim();
            if (text.isEmpty())
            {
                continue;
            }
            final String[] fields = text.split("\\s+");
            final HostPort target;
            try
            {
                target = HostPort.parse(fields[0]);
            }
            catch (final IllegalArgumentException ex)
            {
                throw ConfigException.at(file, lineNo, ex.getMessage());
            }
            int weight = 1;
            for (int f = 1; f < fields.length; f++)
            {
                if (!fields[f].startsWith("weight="))
                {
                    throw ConfigException.at(file, lineNo, "unknown field '" + fields[f] + "' (expected weight=N)");
                }
                try
                {
                    weight = Integer.parseInt(fields[f].substring("weight=".length()));
                }
                catch (final NumberFormatException ex)
                {
                    throw ConfigException.at(file, lineNo, "weight is not a number: '" + fields[f] + "'");
                }
                if (weight < 1 || weight > MAX_WEIGHT)
                {
                    throw ConfigException.at(file, lineNo, "weight must be 1.." + MAX_WEIGHT + ", got " + weight);
                }
            }
            if (!seen.add(target))
            {
                throw ConfigException.at(file, lineNo, "backend " + target + " is listed twice");
            }
            backends.add(new Backend(target, weight, lineNo));
        }
        if (backends.isEmpty())
        {
            throw new ConfigException(file + ": no backends (one per line: IP[:PORT] [weight=N])");
        }
        return List.copyOf(backends);
    }
}
