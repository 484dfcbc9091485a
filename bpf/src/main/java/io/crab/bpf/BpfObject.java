package io.crab.bpf;

/** A loaded BPF object file: its programs and maps live as long as this object is open. */
public interface BpfObject extends AutoCloseable
{
    /** The program of this name (its C function name); throws {@link BpfException} when there is none. */
    BpfProgram program(String name);

    /** The map of this name (its C variable name); throws {@link BpfException} when there is none. */
    BpfMap map(String name);

    /** The object's BTF type information, to check Java layouts against the C structs. */
    BtfTypes btf();

    @Override
    void close();
}
