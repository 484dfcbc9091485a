package io.crab.agent;

import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.UncheckedIOException;

/** The one place where exceptions of the crab commands become exit codes and one-line messages. */
public final class Cli
{
    public static final int OK = 0;
    public static final int FAILED = 1;
    public static final int USAGE = 2;

    private Cli()
    {
    }

    /** Runs a picocli command object with the given streams; never calls System.exit. */
    public static int run(final Object command, final PrintWriter out, final PrintWriter err, final String... args)
    {
        final CommandLine cli = new CommandLine(command);
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) ->
        {
            err.println(commandLine.getCommandName() + ": " + message(ex));
            err.flush();
            return ex instanceof ConfigException || ex instanceof IllegalArgumentException ? USAGE : FAILED;
        });
        final int code = cli.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    private static String message(final Throwable ex)
    {
        if (ex instanceof UncheckedIOException && ex.getCause() != null)
        {
            return ex.getCause().getMessage();
        }
        return ex.getMessage() == null ? ex.toString() : ex.getMessage();
    }
}
