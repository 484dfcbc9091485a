package io.crab.bpf;

import io.crab.bpf.testing.KernelRequired;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Every Java constant and layout in {@link Abi} matches the C side, read from each object's BTF. */
@ExtendWith(KernelRequired.class)
class AbiTest
{
    private static final List<String> OBJECTS = List.of("lb_xdp", "lb_tc", "client_tc", "server_tc", "lb_cpu");
    private static final List<String> ENUMS = List.of("crab_limits", "crab_policy", "crab_xdp_mode", "crab_vip_flags",
        "crab_translate_option", "crab_vip_kinds", "crab_backend_flags", "crab_fin_flags", "crab_flow_state",
        "crab_tc_verdict", "crab_lb_counter", "crab_fallback_counter", "crab_lb_agent_counter",
        "crab_feedback_counter", "crab_client_counter", "crab_server_counter", "crab_cpu_counter");
    private static final Map<Class<?>, String> STRUCTS = Map.ofEntries(
        Map.entry(Abi.OptCfg.class, "crab_opt_cfg"),
        Map.entry(Abi.VipKey.class, "crab_vip_key"),
        Map.entry(Abi.Vip.class, "crab_vip"),
        Map.entry(Abi.Member.class, "crab_member"),
        Map.entry(Abi.BackendLoad.class, "crab_backend_load"),
        Map.entry(Abi.ServiceName.class, "crab_service_name"),
        Map.entry(Abi.Backend.class, "crab_backend"),
        Map.entry(Abi.SynKey.class, "crab_syn_key"),
        Map.entry(Abi.SynSlot.class, "crab_syn_slot"),
        Map.entry(Abi.FlowKey.class, "crab_flow_key"),
        Map.entry(Abi.Flow.class, "crab_flow"),
        Map.entry(Abi.Conn.class, "crab_conn"),
        Map.entry(Abi.AffinityKey.class, "crab_affinity_key"),
        Map.entry(Abi.Affinity.class, "crab_affinity"),
        Map.entry(Abi.ClientVip.class, "crab_client_vip"),
        Map.entry(Abi.CidrKey.class, "crab_cidr_key"),
        Map.entry(Abi.PortKey.class, "crab_port_key"),
        Map.entry(Abi.Rflow.class, "crab_rflow"),
        Map.entry(Abi.Echo.class, "crab_echo"),
        Map.entry(Abi.Translation.class, "crab_translation"),
        Map.entry(Abi.CpuTarget.class, "crab_cpu_target"));
    private static final Map<String, List<String>> MAPS = Map.of(
        "lb_xdp", Abi.Maps.LB_XDP, "lb_tc", Abi.Maps.LB_TC, "client_tc", Abi.Maps.CLIENT_TC, "server_tc", Abi.Maps.SERVER_TC,
        "lb_cpu", Abi.Maps.LB_CPU);

    @Test
    void constantsMatchTheEnumsOfEveryObject() throws Exception
    {
        final Map<String, Long> java = constants(Abi.Consts.class);
        for (final String object : OBJECTS)
        {
            try (BpfObject obj = Bpf.load(object))
            {
                final Map<String, Long> c = new TreeMap<>();
                for (final String e : ENUMS)
                {
                    c.putAll(obj.btf().enumValues(e));
                }
                assertEquals(c, java, "Abi.Consts against the enums of " + object);
            }
        }
    }

    @Test
    void structLayoutsMatchTheBtfOfEveryObjectThatHasThem() throws Exception
    {
        for (final String object : OBJECTS)
        {
            try (BpfObject obj = Bpf.load(object))
            {
                for (final Map.Entry<Class<?>, String> s : STRUCTS.entrySet())
                {
                    final BtfTypes.Struct struct;
                    try
                    {
                        struct = obj.btf().struct(s.getValue());
                    }
                    catch (final BpfException notInThisObject)
                    {
                        continue;
                    }
                    final Map<String, Long> c = new TreeMap<>();
                    c.put("SIZE", (long)struct.size());
                    for (final BtfTypes.Member m : struct.members())
                    {
                        c.put(m.name().toUpperCase(Locale.ROOT), (long)m.offset());
                    }
                    assertEquals(c, constants(s.getKey()), s.getKey().getSimpleName() + " against struct " +
                        s.getValue() + " in " + object);
                }
            }
        }
    }

    @Test
    void mapNamesMatchEveryObject()
    {
        for (final String object : OBJECTS)
        {
            try (BpfObject obj = Bpf.load(object))
            {
                assertEquals(new TreeSet<>(MAPS.get(object)), new TreeSet<>(obj.mapNames()), "maps of " + object);
            }
        }
    }

    @Test
    void bothPrefixMapsAreKeyedByTheOneCidrKey()
    {
        for (final Map.Entry<String, String> prefixMap : Map.of("lb_xdp", Abi.Maps.SOURCE_RANGES, "lb_tc",
            Abi.Maps.SOURCE_RANGES, "client_tc", Abi.Maps.BACKEND_CIDRS).entrySet())
        {
            try (BpfObject obj = Bpf.load(prefixMap.getKey()))
            {
                assertEquals(Abi.CidrKey.SIZE, obj.map(prefixMap.getValue()).keySize(),
                    prefixMap.getValue() + " of " + prefixMap.getKey());
                assertEquals(Abi.CidrKey.SIZE, obj.btf().struct("crab_cidr_key").size(), prefixMap.getKey());
            }
        }
    }

    @Test
    void everyStructIsInSomeObject()
    {
        for (final String struct : STRUCTS.values())
        {
            boolean found = false;
            for (final String object : OBJECTS)
            {
                try (BpfObject obj = Bpf.load(object))
                {
                    obj.btf().struct(struct);
                    found = true;
                }
                catch (final BpfException absent)
                {
                    // looked for in the next object
                }
            }
            assertEquals(true, found, "struct " + struct + " is in no object's BTF");
        }
    }

    private static Map<String, Long> constants(final Class<?> type) throws IllegalAccessException
    {
        final Map<String, Long> out = new TreeMap<>();
        for (final Field f : type.getDeclaredFields())
        {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == int.class)
            {
                out.put(f.getName(), (long)f.getInt(null));
            }
        }
        return out;
    }
}
