package io.crab.endpoint.pods;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * The pods whose pins this manager made or took over, one entry per pod in a directory of its own on the host's
 * bpffs, so that they outlive the process as the pins do. A pod's pins are named by its namespace's inode alone,
 * as crab-endpoint names them, and the host or anyone else may have pins of that form: only a marked pod's are
 * ever removed. The marker also names the pod's namespace file, since the kernel gives a gone namespace's inode
 * to a new one: pins marked for another file than the one that has the inode now are a dead pod's. Markers are
 * empty directories because bpffs holds no regular files.
 */
final class PodMarkers
{
    /** A pod as marked: its namespace's inode and the name of the file it was bound to. */
    record Marker(long inode, String netnsName)
    {
        String fileName()
        {
            return inode + "-" + netnsName;
        }

        /** The marker a file name stands for, or null for a name this class did not make. */
        static Marker parse(final String fileName)
        {
            final int dash = fileName.indexOf('-');
            if (dash <= 0 || dash == fileName.length() - 1)
            {
                return null;
            }
            try
            {
                return new Marker(Long.parseLong(fileName.substring(0, dash)), fileName.substring(dash + 1));
            }
            catch (final NumberFormatException ex)
            {
                return null;
            }
        }
    }

    private final Path dir;

    PodMarkers(final Path dir)
    {
        this.dir = dir;
    }

    Path dir()
    {
        return dir;
    }

    void create(final Marker marker)
    {
        try
        {
            Files.createDirectories(dir);
            Files.createDirectory(dir.resolve(marker.fileName()));
        }
        catch (final FileAlreadyExistsException ex)
        {
            // marked by an earlier run or attempt
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("marking " + dir.resolve(marker.fileName()), ex);
        }
    }

    Set<Marker> list()
    {
        final Set<Marker> markers = new HashSet<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir))
        {
            for (final Path entry : entries)
            {
                final Marker marker = Marker.parse(entry.getFileName().toString());
                if (marker != null)
                {
                    markers.add(marker);
                }
            }
        }
        catch (final NoSuchFileException ex)
        {
            return Set.of();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("listing " + dir, ex);
        }
        return markers;
    }

    void remove(final Marker marker)
    {
        try
        {
            Files.deleteIfExists(dir.resolve(marker.fileName()));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("removing " + dir.resolve(marker.fileName()), ex);
        }
    }
}
