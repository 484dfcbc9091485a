package io.crab.agent.metrics;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One Prometheus metric family and the dropwizard gauges it is made of. Dropwizard names are flat, so the labels
 * are parts of the name: a pattern such as {@code crab.lb.backend.{backend:ip}.syns} matches the gauge
 * {@code crab.lb.backend.198.18.0.101:8080.syns} and gives it the label {@code backend="198.18.0.101:8080"}. A
 * placeholder {@code {name}} matches one dot-free part of the name; {@code {name:ip}} an IPv4 address with an
 * optional port, dots and all.
 * <p>
 * A counter or gauge takes each matching gauge's number as a sample, times {@link #scale}. An info family takes
 * string gauges instead: those named by the pattern plus one of its {@link #infoLabels} (as
 * {@code crab.service.web.vip} and {@code crab.service.web.policy}) become one sample of value 1 whose labels are
 * the pattern's plus one per info label, its value the gauge's string.
 */
public final class MetricFamily
{
    public enum Type
    {
        COUNTER, GAUGE, INFO
    }

    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([a-z_]+)(:ip)?}");
    private static final String PART = "([^.]+)";
    private static final String IP_AND_PORT = "(\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}(?::\\d{1,5})?)";

    private final Type type;
    private final String name;
    private final String help;
    private final List<String> labels;
    private final List<String> infoLabels;
    private final double scale;
    private final boolean absentWhenNegative;
    private final Pattern regex;

    private MetricFamily(final Type type, final String name, final String help, final List<String> labels,
        final List<String> infoLabels, final double scale, final boolean absentWhenNegative, final Pattern regex)
    {
        this.type = type;
        this.name = name;
        this.help = help;
        this.labels = labels;
        this.infoLabels = infoLabels;
        this.scale = scale;
        this.absentWhenNegative = absentWhenNegative;
        this.regex = regex;
    }

    /** A counter: {@code name} without {@code _total}, which the exposition adds. */
    public static MetricFamily counter(final String name, final String help, final String pattern)
    {
        return of(Type.COUNTER, name, help, pattern, List.of());
    }

    public static MetricFamily gauge(final String name, final String help, final String pattern)
    {
        return of(Type.GAUGE, name, help, pattern, List.of());
    }

    /** An info family: {@code name} without {@code _info}, which the exposition adds. */
    public static MetricFamily info(final String name, final String help, final String pattern,
        final String... infoLabels)
    {
        return of(Type.INFO, name, help, pattern, List.of(infoLabels));
    }

    private static MetricFamily of(final Type type, final String name, final String help, final String pattern,
        final List<String> infoLabels)
    {
        final List<String> labels = new ArrayList<>();
        final StringBuilder regex = new StringBuilder();
        final Matcher placeholder = PLACEHOLDER.matcher(pattern);
        int literalFrom = 0;
        while (placeholder.find())
        {
            regex.append(Pattern.quote(pattern.substring(literalFrom, placeholder.start())));
            regex.append(placeholder.group(2) == null ? PART : IP_AND_PORT);
            labels.add(placeholder.group(1));
            literalFrom = placeholder.end();
        }
        regex.append(Pattern.quote(pattern.substring(literalFrom)));
        if (type == Type.INFO)
        {
            regex.append("\\.(").append(String.join("|", infoLabels)).append(')');
        }
        return new MetricFamily(type, name, help, List.copyOf(labels), infoLabels, 1.0, false,
            Pattern.compile(regex.toString()));
    }

    /** The same family with each sample multiplied by {@code factor}, e.g. 0.001 for milliseconds to seconds. */
    public MetricFamily scaled(final double factor)
    {
        return new MetricFamily(type, name, help, labels, infoLabels, factor, absentWhenNegative, regex);
    }

    /** The same family without the samples whose gauge is negative: the gauge's way of saying "never". */
    public MetricFamily absentWhenNegative()
    {
        return new MetricFamily(type, name, help, labels, infoLabels, scale, true, regex);
    }

    public Type type()
    {
        return type;
    }

    /** The family's name as exposed, without the suffix its type adds. */
    public String name()
    {
        return name;
    }

    public String help()
    {
        return help;
    }

    /** The labels the pattern's placeholders give, in their order in the pattern. */
    public List<String> labels()
    {
        return labels;
    }

    /** For an info family, the labels its string gauges give; else empty. */
    public List<String> infoLabels()
    {
        return infoLabels;
    }

    public double scale()
    {
        return scale;
    }

    public boolean isAbsentWhenNegative()
    {
        return absentWhenNegative;
    }

    /**
     * The placeholders' values when {@code dropwizardName} belongs to this family, then (for an info family) the
     * info label it gives; null when it does not belong.
     */
    String[] match(final String dropwizardName)
    {
        final Matcher m = regex.matcher(dropwizardName);
        if (!m.matches())
        {
            return null;
        }
        final String[] values = new String[m.groupCount()];
        for (int i = 0; i < values.length; i++)
        {
            values[i] = m.group(i + 1);
        }
        return values;
    }
}
