package io.crab.bpf.internal;

import io.crab.bpf.BpfException;
import io.crab.bpf.BtfTypes;
import jnr.ffi.Pointer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.crab.bpf.internal.Libbpf.LIB;

/** Reads struct and enum types out of a libbpf struct btf (the layouts of linux/btf.h). */
final class LibbpfBtf implements BtfTypes
{
    private static final int BTF_KIND_STRUCT = 4;
    private static final int BTF_KIND_ENUM = 6;
    /** struct btf_type { __u32 name_off; __u32 info; __u32 size; } then vlen entries. */
    private static final int TYPE_INFO = 4;
    private static final int TYPE_SIZE = 8;
    private static final int TYPE_ENTRIES = 12;
    /** struct btf_member { __u32 name_off; __u32 type; __u32 offset; }. */
    private static final int MEMBER_SIZE = 12;
    /** struct btf_enum { __u32 name_off; __s32 val; }. */
    private static final int ENUM_SIZE = 8;

    private final Pointer btf;

    LibbpfBtf(final Pointer btf)
    {
        this.btf = btf;
    }

    @Override
    public Struct struct(final String name)
    {
        final Pointer type = type(name, BTF_KIND_STRUCT, "struct");
        final int info = type.getInt(TYPE_INFO);
        final boolean bitfieldOffsets = (info >>> 31) != 0;
        final List<Member> members = new ArrayList<>();
        for (int i = 0; i < (info & 0xffff); i++)
        {
            final long at = TYPE_ENTRIES + (long)i * MEMBER_SIZE;
            final int memberType = type.getInt(at + 4);
            final int offsetBits = type.getInt(at + 8);
            final int bitOffset = bitfieldOffsets ? offsetBits & 0xffffff : offsetBits;
            members.add(new Member(LIB.btf__name_by_offset(btf, type.getInt(at)), bitOffset / 8,
                (int)LIB.btf__resolve_size(btf, memberType)));
        }
        return new Struct(name, type.getInt(TYPE_SIZE), List.copyOf(members));
    }

    @Override
    public Map<String, Long> enumValues(final String name)
    {
        final Pointer type = type(name, BTF_KIND_ENUM, "enum");
        final int vlen = type.getInt(TYPE_INFO) & 0xffff;
        final Map<String, Long> values = new LinkedHashMap<>();
        for (int i = 0; i < vlen; i++)
        {
            final long at = TYPE_ENTRIES + (long)i * ENUM_SIZE;
            values.put(LIB.btf__name_by_offset(btf, type.getInt(at)), (long)type.getInt(at + 4));
        }
        return values;
    }

    private Pointer type(final String name, final int kind, final String what)
    {
        final int id = LIB.btf__find_by_name_kind(btf, name, kind);
        if (id < 0)
        {
            throw new BpfException("BTF has no " + what + " " + name);
        }
        return LIB.btf__type_by_id(btf, id);
    }
}
