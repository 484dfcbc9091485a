package io.crab.bpf;

import java.util.List;
import java.util.Map;

/** Read-only view of the struct and enum types in a BPF object's BTF: the C side of every shared layout. */
public interface BtfTypes
{
    /** The struct of this name; throws {@link BpfException} if the BTF has none. */
    Struct struct(String name);

    /** The enumerators of the enum of this name, in declaration order; throws if the BTF has none. */
    Map<String, Long> enumValues(String name);

    record Member(String name, int offset, int size)
    {
    }

    record Struct(String name, int size, List<Member> members)
    {
    }
}
