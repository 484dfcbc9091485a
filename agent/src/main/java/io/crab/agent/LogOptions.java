package io.crab.agent;

import org.agrona.concurrent.EpochClock;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

import java.io.PrintWriter;

/**
 * The daemons' logging options, {@code --log-format text|json} and {@code --verbose}, as a picocli mixin. Every
 * other command gets {@code --verbose} from {@link Cli}, which also reads both to report a command's failure in
 * the same form as its log.
 */
public final class LogOptions
{
    public static final String FORMAT = "--log-format";

    @Option(names = FORMAT, defaultValue = "text", paramLabel = "text|json", converter = FormatConverter.class,
        description = "text (default): one event per line, 'TIMESTAMP LEVEL component: message'; json: one JSON " +
            "object per line (ts, level, component, msg and the event's fields), for log shippers.")
    Log.Format format = Log.Format.TEXT;

    @Option(names = Cli.VERBOSE, description = Cli.VERBOSE_DESCRIPTION)
    boolean verbose;

    /** A log to {@code sink} as these options say. */
    public Log log(final String component, final PrintWriter sink, final EpochClock clock)
    {
        return new Log(component, format, verbose, sink, clock);
    }

    static Log.Format format(final String word)
    {
        return Log.Format.ofWord(word).orElseThrow(() ->
            new TypeConversionException("unknown log format '" + word + "' (expected text, json)"));
    }

    static final class FormatConverter implements ITypeConverter<Log.Format>
    {
        @Override
        public Log.Format convert(final String value)
        {
            return format(value);
        }
    }
}
