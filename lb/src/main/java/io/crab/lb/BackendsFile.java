package io.crab.lb;

import io.crab.agent.ConfigException;
import io.crab.agent.HostPort;
import io.crab.agent.Parse;
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

    /** A weight as the backends file and the services file write it: 1..{@link #MAX_WEIGHT}, strictly decimal. */
    public static int parseWeight(final String text)
    {
        try
        {
            return Parse.decimalInt(text, 1, MAX_WEIGHT);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new IllegalArgumentException("weight " + ex.getMessage() + ", got '" + text + "'");
        }
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
            int weight = 0;
            for (int f = 1; f < fields.length; f++)
            {
                if (!fields[f].startsWith("weight="))
                {
                    throw ConfigException.at(file, lineNo, "unknown field '" + fields[f] + "' (expected weight=N)");
                }
                if (weight != 0)
                {
                    throw ConfigException.at(file, lineNo, "weight given twice");
                }
                try
                {
                    weight = parseWeight(fields[f].substring("weight=".length()));
                }
                catch (final IllegalArgumentException ex)
                {
                    throw ConfigException.at(file, lineNo, ex.getMessage());
                }
            }
            if (!seen.add(target))
            {
                throw ConfigException.at(file, lineNo, "backend " + target + " is listed twice");
            }
            backends.add(new Backend(target, weight == 0 ? 1 : weight, lineNo));
        }
        if (backends.isEmpty())
        {
            throw new ConfigException(file + ": no backends (one per line: IP[:PORT] [weight=N])");
        }
        return List.copyOf(backends);
    }
}
