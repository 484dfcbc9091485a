package io.crab.bpf;

import java.nio.file.Path;
import java.util.Map;

/**
 * How to load a BPF object: sizes that replace some maps' compiled max_entries, and a bpffs directory whose pins
 * (named like the maps) the object uses instead of new maps, so state survives a restart of the loading process.
 *
 * @param maxEntries map name to its size; maps not named keep their compiled size.
 * @param reuseDir   pins to reuse, or null to create every map anew.
 */
public record LoadOptions(Map<String, Integer> maxEntries, Path reuseDir)
{
    public static final LoadOptions DEFAULT = new LoadOptions(Map.of(), null);

    public LoadOptions
    {
        maxEntries = Map.copyOf(maxEntries);
    }
}
