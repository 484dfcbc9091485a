package io.crab.agent;

import org.agrona.concurrent.EpochClock;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Optional;

/**
 * What the daemons log: one event per line, with a UTC timestamp (ISO-8601, milliseconds), a level, the component
 * that speaks and a message, as text ({@code 2026-11-26T12:00:00.123Z INFO crab-lb: ready on eth0: ...}) or as a
 * JSON object per line for log shippers ({@code ts}, {@code level}, {@code component}, {@code msg}, and the event's
 * fields). The fields repeat, for machines, what the message says; text shows the message alone. A stack trace is
 * written only when asked for ({@code --verbose}): in text after the event's line, in JSON as its {@code trace}
 * field, so a JSON event stays one line. Events of several threads never interleave within a line.
 * <p>
 * Not for hot paths: an event allocates (its line, its fields). The agents log changes, refusals and rate-limited
 * errors, never per packet.
 */
public final class Log
{
    private static final DateTimeFormatter TIMESTAMP =
        DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", Locale.ROOT).withZone(ZoneOffset.UTC);

    public enum Level
    {
        INFO, WARN, ERROR
    }

    /** How events are written: {@code text} for people, {@code json} (one object per line) for log shippers. */
    public enum Format
    {
        TEXT, JSON;

        public String word()
        {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Optional<Format> ofWord(final String word)
        {
            for (final Format f : values())
            {
                if (f.word().equals(word))
                {
                    return Optional.of(f);
                }
            }
            return Optional.empty();
        }
    }

    private final String component;
    private final Format format;
    private final boolean verbose;
    private final PrintWriter out;
    private final EpochClock clock;

    /**
     * @param component who speaks, e.g. {@code crab-lb}: the text line's prefix, and the JSON {@code component}.
     * @param verbose   whether an event given an exception also shows its stack trace.
     */
    public Log(final String component, final Format format, final boolean verbose, final PrintWriter out,
        final EpochClock clock)
    {
        this.component = component;
        this.format = format;
        this.verbose = verbose;
        this.out = out;
        this.clock = clock;
    }

    /** The same sink, format and verbosity for another component (a thread of the same daemon, say). */
    public Log forComponent(final String other)
    {
        return new Log(other, format, verbose, out, clock);
    }

    public String component()
    {
        return component;
    }

    public boolean verbose()
    {
        return verbose;
    }

    /** {@code fields}: name, value, name, value...; values are written as JSON numbers, booleans or strings. */
    public void info(final String message, final Object... fields)
    {
        event(Level.INFO, message, null, fields);
    }

    public void warn(final String message, final Object... fields)
    {
        event(Level.WARN, message, null, fields);
    }

    public void error(final String message, final Object... fields)
    {
        event(Level.ERROR, message, null, fields);
    }

    /** An error with its exception: the stack trace is written only when verbose. */
    public void error(final String message, final Throwable cause, final Object... fields)
    {
        event(Level.ERROR, message, cause, fields);
    }

    public void event(final Level level, final String message, final Throwable cause, final Object... fields)
    {
        final String trace = verbose && cause != null ? trace(cause) : null;
        final String line;
        if (format == Format.JSON)
        {
            line = json(level, message, trace, fields);
        }
        else
        {
            line = TIMESTAMP.format(Instant.ofEpochMilli(clock.time())) + " " + level + " " + component + ": " +
                message + (trace == null ? "" : System.lineSeparator() + trace.stripTrailing());
        }
        write(line);
    }

    /**
     * The one line a command that cannot go on ends with, naming the problem: as text, {@code component: problem}
     * alone (a person reads it where the command was typed), as JSON an ERROR event like any other.
     */
    public void fatal(final String problem, final Throwable cause)
    {
        if (format == Format.JSON)
        {
            event(Level.ERROR, problem, cause);
            return;
        }
        final String trace = verbose && cause != null ? trace(cause) : null;
        write(component + ": " + problem + (trace == null ? "" : System.lineSeparator() + trace.stripTrailing()));
    }

    private void write(final String line)
    {
        synchronized (out)
        {
            out.println(line);
            out.flush();
        }
    }

    private String json(final Level level, final String message, final String trace, final Object[] fields)
    {
        final StringBuilder json = new StringBuilder(128 + message.length());
        json.append("{\"ts\":\"").append(TIMESTAMP.format(Instant.ofEpochMilli(clock.time()))).append('"');
        json.append(",\"level\":\"").append(level).append('"');
        member(json, "component", component);
        member(json, "msg", message);
        for (int i = 0; i + 1 < fields.length; i += 2)
        {
            member(json, String.valueOf(fields[i]), fields[i + 1]);
        }
        if (trace != null)
        {
            member(json, "trace", trace);
        }
        return json.append('}').toString();
    }

    private static void member(final StringBuilder json, final String name, final Object value)
    {
        json.append(',');
        string(json, name);
        json.append(':');
        if (value == null)
        {
            json.append("null");
        }
        else if (value instanceof Boolean || value instanceof Integer || value instanceof Long ||
            value instanceof Short || value instanceof Byte)
        {
            json.append(value);
        }
        else
        {
            string(json, value.toString());
        }
    }

    private static void string(final StringBuilder json, final String text)
    {
        json.append('"');
        for (int i = 0; i < text.length(); i++)
        {
            final char c = text.charAt(i);
            switch (c)
            {
                case '"' -> json.append("\\\"");
                case '\\' -> json.append("\\\\");
                case '\n' -> json.append("\\n");
                case '\r' -> json.append("\\r");
                case '\t' -> json.append("\\t");
                default ->
                {
                    if (c < 0x20 || c == 0x2028 || c == 0x2029)
                    {
                        json.append(String.format(Locale.ROOT, "\\u%04x", (int)c));
                    }
                    else
                    {
                        json.append(c);
                    }
                }
            }
        }
        json.append('"');
    }

    private static String trace(final Throwable cause)
    {
        final StringWriter trace = new StringWriter();
        cause.printStackTrace(new PrintWriter(trace));
        return trace.toString();
    }
}
