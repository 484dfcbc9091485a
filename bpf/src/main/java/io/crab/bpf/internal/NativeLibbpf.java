package io.crab.bpf.internal;

import jnr.ffi.Pointer;

/**
 * The libbpf (1.x) and libc functions crab calls. Pointers to memory crab owns are passed as {@code long}
 * addresses, so calls on the map hot path allocate nothing; libbpf's own objects stay opaque {@link Pointer}s.
 * libbpf 1.x returns negative errno values from int functions.
 */
public interface NativeLibbpf
{
    Pointer bpf_object__open_mem(long buf, long size, long opts);

    int bpf_object__load(Pointer obj);

    void bpf_object__close(Pointer obj);

    Pointer bpf_object__find_program_by_name(Pointer obj, String name);

    Pointer bpf_object__next_program(Pointer obj, Pointer prev);

    Pointer bpf_object__find_map_by_name(Pointer obj, String name);

    Pointer bpf_object__next_map(Pointer obj, Pointer prev);

    Pointer bpf_object__btf(Pointer obj);

    String bpf_program__name(Pointer prog);

    int bpf_program__fd(Pointer prog);

    int bpf_program__set_log_buf(Pointer prog, long buf, long size);

    int bpf_program__set_log_level(Pointer prog, int level);

    int bpf_map__fd(Pointer map);

    String bpf_map__name(Pointer map);

    int bpf_map__reuse_fd(Pointer map, int fd);

    int bpf_map__type(Pointer map);

    int bpf_map__key_size(Pointer map);

    int bpf_map__value_size(Pointer map);

    int bpf_map__max_entries(Pointer map);

    int bpf_map__map_flags(Pointer map);

    int bpf_map__set_max_entries(Pointer map, int maxEntries);

    int btf__find_by_name_kind(Pointer btf, String name, int kind);

    Pointer btf__type_by_id(Pointer btf, int id);

    String btf__name_by_offset(Pointer btf, int offset);

    long btf__resolve_size(Pointer btf, int id);

    int bpf_map_update_elem(int fd, long key, long value, long flags);

    int bpf_map_lookup_elem(int fd, long key, long value);

    int bpf_map_delete_elem(int fd, long key);

    int bpf_map_get_next_key(int fd, long key, long nextKey);

    int bpf_map_lookup_batch(int fd, long inBatch, long outBatch, long keys, long values, long count, long opts);

    int bpf_obj_pin(int fd, String path);

    int bpf_obj_get(String path);

    int bpf_obj_get_info_by_fd(int fd, long info, long infoLen);

    int bpf_link_create(int progFd, int targetFd, int attachType, long opts);

    int bpf_link_update(int linkFd, int newProgFd, long opts);

    int bpf_link_detach(int linkFd);

    /** name null: the tracepoint a tp_btf program was loaded for. */
    int bpf_raw_tracepoint_open(String name, int progFd);

    int bpf_prog_test_run_opts(int progFd, long opts);

    /** Six parameters: opts is a {@link Pointer} to dodge jnr-ffi's sixth-primitive bug (see mmap). */
    int bpf_prog_load(int progType, String name, String license, long insns, long insnCount, Pointer opts);

    /** Six parameters: opts is a {@link Pointer}, as for bpf_prog_load. */
    int bpf_map_create(int mapType, String name, int keySize, int valueSize, int maxEntries, Pointer opts);

    int libbpf_num_possible_cpus();

    int bpf_xdp_query_id(int ifindex, int flags, long progId);

    int bpf_prog_get_fd_by_id(int id);

    int bpf_enable_stats(int type);

    /** libc: mmap has six parameters, so one is a {@link Pointer} to dodge jnr-ffi's sixth-primitive bug. */
    long mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

    int munmap(long addr, long length);

    int close(int fd);

    String strerror(int errnum);
}
