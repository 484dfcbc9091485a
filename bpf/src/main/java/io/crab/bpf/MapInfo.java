package io.crab.bpf;

/** What the kernel says of a map: its type (enum bpf_map_type), key and value sizes, size and flags. */
public record MapInfo(int type, int keySize, int valueSize, int maxEntries, int flags)
{
}
