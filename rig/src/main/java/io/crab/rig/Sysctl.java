package io.crab.rig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes a /proc/sys setting of the calling thread's network namespace (call it inside {@code Netns.run}). */
final class Sysctl
{
    private Sysctl()
    {
    }

    static void write(final String path, final String value)
    {
        try
        {
            Files.writeString(Path.of(path), value);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot write " + value + " to " + path, ex);
        }
    }
}
