package io.crab.bpf;

import java.nio.file.Path;
import java.util.List;

/** A loaded BPF object file: its programs and maps live as long as this object is open. */
public interface BpfObject extends AutoCloseable
{
    /** The program of this name (its C function name); throws {@link BpfException} when there is none. */
    BpfProgram program(String name);

    /** The map of this name (its C variable name); throws {@link BpfException} when there is none. */
    BpfMap map(String name);

    /** Names of the object's own maps (not libbpf's internal .data/.rodata/.bss maps), in declaration order. */
    List<String> mapNames();

    /** Pins every map of {@link #mapNames()} as {@code dir/<name>}, except those already pinned there. */
    void pinMaps(Path dir);

    /** The object's BTF type information, to check Java layouts against the C structs. */
    BtfTypes btf();

    @Override
    void close();
}
