package io.crab.agent;

import java.nio.file.Path;

/** Wrong configuration: the message names the file and line, or the option, and the problem. */
public class ConfigException extends RuntimeException
{
    public ConfigException(final String message)
    {
        super(message);
    }

    public static ConfigException at(final Path file, final int line, final String problem)
    {
        return new ConfigException(file + ":" + line + ": " + problem);
    }
}
