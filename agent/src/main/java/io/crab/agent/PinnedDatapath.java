package io.crab.agent;

import io.crab.bpf.Bpf;
import io.crab.bpf.BpfException;
import io.crab.bpf.BpfLink;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.LoadOptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * A BPF object whose maps and links are pinned in one directory, so that the data path and its state outlive the
 * agent. Started again (after an upgrade, SIGTERM, SIGKILL or a crash), an agent loads its object onto the pinned
 * maps, writes its configuration into them, and swaps its programs into the pinned links atomically
 * (bpf_link_update): no packet ever meets a detached hook or an empty table. Removing the data path is
 * {@link #detach}, an explicit operator command, never a side effect of stopping the agent.
 */
public final class PinnedDatapath implements AutoCloseable
{
    /** Link pins are named with this prefix; every other pin in the directory is a map. */
    public static final String LINK_PREFIX = "link_";
    private static final int ENOLINK = 67;

    private final Path dir;
    private final BpfObject object;
    private final List<BpfLink> links = new ArrayList<>();
    private final boolean adopted;

    private PinnedDatapath(final Path dir, final BpfObject object, final boolean adopted)
    {
        this.dir = dir;
        this.object = object;
        this.adopted = adopted;
    }

    /**
     * Loads {@code objectName} onto the maps pinned in {@code dir} (created if absent), giving the maps that are
     * new the sizes in {@code sizes}. A pinned map of another layout or size is refused with a message that names
     * both, and nothing is changed.
     */
    public static PinnedDatapath open(final String objectName, final Path dir, final Map<String, Integer> sizes)
    {
        if (!Files.isDirectory(Pins.BPFFS) || !Pins.onBpffs())
        {
            throw new IllegalStateException(Pins.BPFFS + " is no bpf filesystem here: mount it (mount -t bpf bpf " +
                Pins.BPFFS + "); in a named network namespace, run crab with nsenter --net=/run/netns/NAME, since " +
                "ip netns exec mounts a /sys of its own");
        }
        try
        {
            Files.createDirectories(dir);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("creating " + dir, ex);
        }
        final boolean adopted = !linkPins(dir).isEmpty();
        return new PinnedDatapath(dir, Bpf.load(objectName, new LoadOptions(sizes, dir)), adopted);
    }

    public BpfObject object()
    {
        return object;
    }

    public Path dir()
    {
        return dir;
    }

    /** True when links were pinned already: another run of the agent attached this data path. */
    public boolean adopted()
    {
        return adopted;
    }

    /** Pins the maps that are not pinned yet (those this run created). Call once they hold the configuration. */
    public void pinMaps()
    {
        object.pinMaps(dir);
    }

    /**
     * Puts {@code program} on the hook of the link pinned as {@code LINK_PREFIX + name}: swapped in atomically if
     * the link exists, else attached with {@code attach} and pinned.
     */
    public void attach(final String name, final BpfProgram program, final Function<BpfProgram, BpfLink> attach)
    {
        final Path pin = linkPin(dir, name);
        if (Files.exists(pin))
        {
            final BpfLink link = Bpf.openPinnedLink(pin);
            try
            {
                link.update(program);
                links.add(link);
                return;
            }
            catch (final BpfException ex)
            {
                link.close();
                if (ex.errno() != ENOLINK)
                {
                    throw ex;
                }
                // The interface was deleted and made again since: the old link is defunct, so attach anew.
                deleteIfExists(pin);
            }
        }
        final BpfLink link = attach.apply(program);
        links.add(link);
        link.pin(pin);
    }

    /**
     * Detaches the link pinned as {@code LINK_PREFIX + name} and removes its pin, leaving the hook without this
     * data path's program until {@link #attach} puts one there again: for a change a link cannot make in place (an
     * XDP link's mode). The maps stay.
     */
    public void detachLink(final String name)
    {
        final Path pin = linkPin(dir, name);
        try (BpfLink link = Bpf.openPinnedLink(pin))
        {
            link.detach();
        }
        deleteIfExists(pin);
    }

    /** Where a data path pinned in {@code dir} pins the link named {@code name} (it may not be there). */
    public static Path linkPin(final Path dir, final String name)
    {
        return dir.resolve(LINK_PREFIX + name);
    }

    private static void deleteIfExists(final Path pin)
    {
        try
        {
            Files.deleteIfExists(pin);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("removing " + pin, ex);
        }
    }

    /**
     * Detaches every link pinned in {@code dir} and removes the directory, maps and all: connections that
     * depended on the data path lose it. Returns the number of links detached; 0 when nothing was there.
     */
    public static int detach(final Path dir)
    {
        final List<Path> pins = linkPins(dir);
        for (final Path pin : pins)
        {
            try (BpfLink link = Bpf.openPinnedLink(pin))
            {
                link.detach();
            }
        }
        Pins.remove(dir);
        return pins.size();
    }

    private static List<Path> linkPins(final Path dir)
    {
        if (!Files.isDirectory(dir))
        {
            return List.of();
        }
        try (Stream<Path> entries = Files.list(dir))
        {
            return entries.filter(p -> p.getFileName().toString().startsWith(LINK_PREFIX)).sorted().toList();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("listing " + dir, ex);
        }
    }

    /** Releases this process's handles; the pins keep the programs attached and the maps alive. */
    @Override
    public void close()
    {
        links.forEach(BpfLink::close);
        links.clear();
        object.close();
    }
}
