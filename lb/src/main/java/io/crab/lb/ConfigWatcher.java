package io.crab.lb;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Asks for a reload when the configuration file changes: it watches the file's directory (editors and
 * configuration tools replace a file by renaming a new one over it, which a watch on the file itself would miss)
 * and sets the agent's reload flag; the agent reads the file in its own duty cycle.
 */
final class ConfigWatcher implements Runnable, AutoCloseable
{
    private final Path file;
    private final AtomicBoolean reloadRequested;
    private final WatchService watcher;
    private final Thread thread;

    ConfigWatcher(final Path file, final AtomicBoolean reloadRequested) throws IOException
    {
        this.file = file.toAbsolutePath();
        this.reloadRequested = reloadRequested;
        this.watcher = FileSystems.getDefault().newWatchService();
        this.file.getParent().register(watcher, StandardWatchEventKinds.ENTRY_CREATE,
            StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_DELETE);
        this.thread = new Thread(this, "crab-lb-config-watch");
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    public void run()
    {
        try
        {
            while (true)
            {
                final WatchKey key = watcher.poll(1, TimeUnit.SECONDS);
                if (key == null)
                {
                    continue;
                }
                for (final WatchEvent<?> event : key.pollEvents())
                {
                    if (event.kind() == StandardWatchEventKinds.OVERFLOW ||
                        file.getFileName().equals(event.context()))
                    {
                        reloadRequested.set(true);
                    }
                }
                key.reset();
            }
        }
        catch (final InterruptedException | ClosedWatchServiceException stopped)
        {
            // closing ends the watch
        }
    }

    @Override
    public void close()
    {
        try
        {
            watcher.close();
        }
        catch (final IOException ignored)
        {
            // the watch thread ends either way
        }
        thread.interrupt();
    }
}
