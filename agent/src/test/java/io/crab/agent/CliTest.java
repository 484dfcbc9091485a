package io.crab.agent;

import org.junit.jupiter.api.Test;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import java.util.List;
import java.util.concurrent.Callable;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every command's failures go through Cli: one line naming the option and value, exit 2 for what the user wrote
 * and 1 for the rest, no usage dump and no exception class unless --verbose; --help still prints the usage.
 */
class CliTest
{
    @Command(name = "tool", mixinStandardHelpOptions = true, subcommands = Tool.Sub.class)
    static final class Tool implements Callable<Integer>
    {
        @Option(names = "--count")
        int count;

        @Option(names = "--size")
        Long size;

        @Option(names = "--color", converter = Color.class)
        String color;

        @Option(names = "--shape", converter = Shape.class)
        String shape;

        @Option(names = "--fail")
        String fail;

        @picocli.CommandLine.Mixin
        LogOptions logOptions = new LogOptions();

        @Override
        public Integer call() throws Exception
        {
            switch (fail == null ? "" : fail)
            {
                case "config" -> throw new ConfigException("tool.conf:3: no such thing");
                case "file" -> throw new UncheckedIOException("reading tool.conf",
                    new NoSuchFileException("/etc/tool.conf"));
                case "bug" -> throw new NullPointerException();
                case "wrapped" -> throw new RuntimeException(new IllegalStateException("deep down"));
                default -> { }
            }
            return Cli.OK;
        }

        @Command(name = "sub")
        static final class Sub implements Callable<Integer>
        {
            @Option(names = "--iface", required = true)
            String iface;

            @Override
            public Integer call()
            {
                return Cli.OK;
            }
        }
    }

    /** A converter as crab writes them: its message names the value. */
    static final class Color implements ITypeConverter<String>
    {
        @Override
        public String convert(final String value)
        {
            if (!List.of("red", "blue").contains(value))
            {
                throw new picocli.CommandLine.TypeConversionException("unknown color '" + value + "' (expected red, blue)");
            }
            return value;
        }
    }

    /** A converter that throws something else, with a message that does not name the value. */
    static final class Shape implements ITypeConverter<String>
    {
        @Override
        public String convert(final String value)
        {
            throw new IllegalArgumentException("expected round or square");
        }
    }

    @Test
    void usageErrorsAreOneLineNamingTheOptionAndValueWithExitTwo()
    {
        assertFails(2, "tool: --color: unknown color 'green' (expected red, blue)", "--color", "green");
        assertFails(2, "tool: --shape: 'oval': expected round or square", "--shape", "oval");
        assertFails(2, "tool: --count: '+5' is not a number (digits 0-9 only)", "--count", "+5");
        assertFails(2, "tool: --count: '05' has a leading zero", "--count", "05");
        assertFails(2, "tool: --count: '-1' is not a number (digits 0-9 only)", "--count", "-1");
        assertFails(2, "tool: --count: '99999999999' must be 0..2147483647", "--count", "99999999999");
        assertFails(2, "tool: --size: '0x10' is not a number (digits 0-9 only)", "--size", "0x10");
        assertFails(2, "tool: --count needs a value", "--count");
        assertFails(2, "tool: --count is given twice", "--count", "1", "--count", "2");
        assertFails(2, "tool: unknown option '--coutn' (did you mean --count or --color?)", "--coutn", "1");
        assertFails(2, "tool: unexpected argument 'sux' (did you mean sub?)", "sux");
        assertFails(2, "tool sub: --iface is required", "sub");
        assertFails(2, "tool: tool.conf:3: no such thing", "--fail", "config");
    }

    @Test
    void otherFailuresExitOneWithWhatFailedAndNoClassName()
    {
        assertFails(1, "tool: reading tool.conf: /etc/tool.conf: no such file or directory", "--fail", "file");
        assertFails(1, "tool: deep down", "--fail", "wrapped");
        assertFails(1, "tool: an unexpected error (--verbose shows where)", "--fail", "bug");
    }

    @Test
    void verbosePrintsTheStackTraceAfterTheLineOnEveryCommand()
    {
        final StringWriter err = new StringWriter();
        assertEquals(2, Cli.run(new Tool(), new PrintWriter(new StringWriter()), new PrintWriter(err), "sub",
            "--verbose"));
        final List<String> lines = err.toString().lines().toList();
        assertEquals("tool sub: --iface is required", lines.get(0));
        assertTrue(lines.get(1).startsWith("picocli.CommandLine$MissingParameterException: "), lines.get(1));
        assertTrue(lines.stream().anyMatch(l -> l.strip().startsWith("at io.crab.agent.Cli.run")), err.toString());

        final StringWriter bug = new StringWriter();
        assertEquals(1, Cli.run(new Tool(), new PrintWriter(new StringWriter()), new PrintWriter(bug), "--verbose",
            "--fail", "bug"));
        assertTrue(bug.toString().lines().skip(1).findFirst().orElseThrow().startsWith("java.lang.NullPointerException"),
            bug.toString());
    }

    @Test
    void jsonFormatMakesTheLineAJsonErrorEvent()
    {
        final StringWriter err = new StringWriter();
        assertEquals(2, Cli.run(new Tool(), new PrintWriter(new StringWriter()), new PrintWriter(err),
            "--log-format=json", "--count", "x"));
        final String line = err.toString().strip();
        assertTrue(line.startsWith("{\"ts\":\"") && line.contains("\"level\":\"ERROR\",\"component\":\"tool\"," +
            "\"msg\":\"--count: 'x' is not a number (digits 0-9 only)\"}"), line);
    }

    @Test
    void helpStillPrintsTheUsage()
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        assertEquals(0, Cli.run(new Tool(), new PrintWriter(out), new PrintWriter(err), "--help"));
        assertTrue(out.toString().startsWith("Usage: tool"), out.toString());
        assertTrue(out.toString().contains("--verbose"), "every command takes --verbose:\n" + out);
        assertEquals("", err.toString());
    }

    private static void assertFails(final int code, final String line, final String... args)
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        assertEquals(code, Cli.run(new Tool(), new PrintWriter(out), new PrintWriter(err), args), err.toString());
        assertEquals(List.of(line), err.toString().lines().toList(), "exactly one line on stderr");
        assertEquals("", out.toString(), "no usage dump");
        assertFalse(line.matches(".*\\b(java|picocli)\\.[a-z.]+\\.[A-Z].*|.*Exception.*"), line);
    }
}
