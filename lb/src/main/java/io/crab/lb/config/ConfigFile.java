package io.crab.lb.config;

import io.crab.agent.ConfigException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/** Reading a configuration file whole, for the services file and the backends file alike. */
public final class ConfigFile
{
    private ConfigFile()
    {
    }

    /**
     * The file's lines, or a {@link ConfigException} naming the file and why it cannot be read. Bytes that are not
     * UTF-8 become U+FFFD, which no keyword, name or address accepts, so the line holding them is the one reported.
     */
    public static List<String> lines(final Path file)
    {
        try
        {
            return new String(Files.readAllBytes(file), StandardCharsets.UTF_8).lines().toList();
        }
        catch (final NoSuchFileException ex)
        {
            throw new ConfigException(file + ": no such file");
        }
        catch (final IOException ex)
        {
            throw new ConfigException(file + ": cannot be read: " + ex.getMessage());
        }
    }
}
