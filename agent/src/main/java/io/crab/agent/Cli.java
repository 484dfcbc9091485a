package io.crab.agent;

import org.agrona.concurrent.SystemEpochClock;
import picocli.CommandLine;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.MissingParameterException;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.OverwrittenOptionException;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.TypeConversionException;
import picocli.CommandLine.UnmatchedArgumentException;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The one place where the crab commands' failures become exit codes and messages. A command that cannot run ends
 * with one line, {@code command: problem}, naming the option and value or the file and line: exit 2 for what the
 * user wrote (a usage error or a {@link ConfigException}), 1 for anything else. No usage dump and no exception's
 * class: the stack trace comes only with {@code --verbose}, which every command takes. {@code --help} still prints
 * the usage. Numbers on every command line are read strictly ({@link Parse}).
 */
public final class Cli
{
    public static final int OK = 0;
    public static final int FAILED = 1;
    public static final int USAGE = 2;

    public static final String VERBOSE = "--verbose";
    static final String VERBOSE_DESCRIPTION = "With an error, also print the full exception (stack trace).";

    private Cli()
    {
    }

    /** Runs a picocli command object with the given streams; never calls System.exit. */
    public static int run(final Object command, final PrintWriter out, final PrintWriter err, final String... args)
    {
        final CommandLine cli = new CommandLine(command);
        cli.setOut(out);
        cli.setErr(err);
        final ITypeConverter<Integer> strictInt = value -> (int)number(value, Integer.MAX_VALUE);
        final ITypeConverter<Long> strictLong = value -> number(value, Long.MAX_VALUE);
        cli.registerConverter(Integer.class, strictInt);
        cli.registerConverter(int.class, strictInt);
        cli.registerConverter(Long.class, strictLong);
        cli.registerConverter(long.class, strictLong);
        addVerbose(cli, Collections.newSetFromMap(new IdentityHashMap<>()));
        cli.setParameterExceptionHandler((ex, ignored) ->
        {
            report(ex.getCommandLine(), err, args).fatal(usageProblem(ex), ex);
            return USAGE;
        });
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) ->
        {
            final boolean configuration = ex instanceof ConfigException;
            report(commandLine, err, args).fatal(configuration ? ex.getMessage() : describe(ex), ex);
            return configuration ? USAGE : FAILED;
        });
        final int code = cli.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    /** Every command takes --verbose; the daemons declare it themselves, with --log-format ({@link LogOptions}). */
    private static void addVerbose(final CommandLine cli, final Set<CommandLine> seen)
    {
        if (!seen.add(cli))
        {
            return;
        }
        if (cli.getCommandSpec().findOption(VERBOSE) == null)
        {
            cli.getCommandSpec().addOption(OptionSpec.builder(VERBOSE).arity("0").type(boolean.class)
                .description(VERBOSE_DESCRIPTION).build());
        }
        cli.getSubcommands().values().forEach(sub -> addVerbose(sub, seen));
    }

    /**
     * The log a failure is reported through, as the command line asks: read from the arguments themselves, since
     * the failure may be in parsing them, before or after either option.
     */
    private static Log report(final CommandLine commandLine, final PrintWriter err, final String... args)
    {
        boolean verbose = false;
        Log.Format format = Log.Format.TEXT;
        for (int i = 0; i < args.length && !"--".equals(args[i]); i++)
        {
            final String arg = args[i];
            verbose |= VERBOSE.equals(arg);
            final String value = arg.startsWith(LogOptions.FORMAT + "=") ?
                arg.substring(LogOptions.FORMAT.length() + 1) :
                LogOptions.FORMAT.equals(arg) && i + 1 < args.length ? args[i + 1] : null;
            if (value != null)
            {
                format = Log.Format.ofWord(value).orElse(format);
            }
        }
        return new Log(commandLine.getCommandSpec().qualifiedName(), format, verbose, err, SystemEpochClock.INSTANCE);
    }

    /** A number on the command line: digits only, no sign or leading zero. */
    private static long number(final String value, final long max)
    {
        try
        {
            return Parse.decimal(value, 0, max);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new TypeConversionException("'" + value + "' " + ex.getMessage());
        }
    }

    /** What was wrong with the command line, naming the option and the value. */
    static String usageProblem(final ParameterException ex)
    {
        if (ex instanceof UnmatchedArgumentException unmatched)
        {
            final String first = unmatched.getUnmatched().isEmpty() ? "" : unmatched.getUnmatched().get(0);
            final List<String> suggestions = unmatched.getSuggestions();
            return (first.startsWith("-") ? "unknown option '" : "unexpected argument '") + first + "'" +
                (suggestions.isEmpty() ? "" : " (did you mean " + String.join(" or ", suggestions) + "?)");
        }
        if (ex instanceof MissingParameterException missing && !missing.getMissing().isEmpty())
        {
            final List<ArgSpec> specs = missing.getMissing();
            final String names = specs.stream().map(Cli::name).collect(Collectors.joining(", "));
            if (String.valueOf(ex.getMessage()).startsWith("Missing required parameter for option"))
            {
                return names + " needs a value";
            }
            return names + (specs.size() == 1 ? " is required" : " are required");
        }
        if (ex instanceof OverwrittenOptionException overwritten && overwritten.getOverwritten() != null)
        {
            return name(overwritten.getOverwritten()) + " is given twice";
        }
        if (ex.getArgSpec() != null && ex.getCause() != null)
        {
            final String problem = describe(ex.getCause());
            final String value = ex.getValue();
            return name(ex.getArgSpec()) + ": " + (ex.getCause() instanceof TypeConversionException ||
                value == null || problem.contains("'" + value + "'") ? problem : "'" + value + "': " + problem);
        }
        return firstLine(ex.getMessage());
    }

    private static String name(final ArgSpec spec)
    {
        return spec.isOption() ? ((OptionSpec)spec).longestName() : spec.paramLabel();
    }

    /** An exception's message for a person: what failed and why, without the exception's class. */
    static String describe(final Throwable ex)
    {
        if (ex instanceof FileSystemException fs)
        {
            final String reason = fs instanceof NoSuchFileException ? "no such file or directory" :
                fs instanceof AccessDeniedException ? "permission denied" :
                fs instanceof FileAlreadyExistsException ? "already exists" :
                fs.getReason() != null ? fs.getReason() : "cannot be used";
            return (fs.getFile() == null ? "" : fs.getFile() + ": ") + reason +
                (fs.getOtherFile() == null ? "" : " (" + fs.getOtherFile() + ")");
        }
        if (ex.getCause() != null && (ex.getMessage() == null || ex.getMessage().equals(ex.getCause().toString())))
        {
            // Made from its cause alone, the message would be the cause's class and message.
            return describe(ex.getCause());
        }
        if (ex instanceof UncheckedIOException && ex.getCause() != null)
        {
            final String cause = describe(ex.getCause());
            return ex.getMessage().equals(cause) ? cause : ex.getMessage() + ": " + cause;
        }
        if (ex.getMessage() != null && !ex.getMessage().isBlank())
        {
            return firstLine(ex.getMessage());
        }
        return "an unexpected error (" + VERBOSE + " shows where)";
    }

    private static String firstLine(final String text)
    {
        final int newline = text.indexOf('\n');
        return (newline < 0 ? text : text.substring(0, newline)).strip();
    }
}
