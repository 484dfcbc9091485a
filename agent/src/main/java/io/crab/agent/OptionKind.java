package io.crab.agent;

import io.crab.bpf.Abi;
import io.crab.bpf.BpfMap;
import org.agrona.concurrent.UnsafeBuffer;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.nio.ByteOrder;

/**
 * The TCP option kind of Connection Redirect: 42 by default (the published prototype's), or an experimental
 * kind 253/254 with a 16-bit ExID (RFC 6994) on networks that must not see an unassigned kind.
 */
public record OptionKind(int kind, int exid)
{
    public static final OptionKind DEFAULT = new OptionKind(42, 0);

    public static OptionKind of(final int kind, final int exid)
    {
        if (kind < 2 || kind > 255)
        {
            throw new ConfigException("--option-kind must be 2..255 (0 and 1 are EOL and NOP), got " + kind);
        }
        if ((kind == 253 || kind == 254) != (exid != 0))
        {
            throw new ConfigException("--option-exid goes with the experimental kinds 253 and 254, and they need it");
        }
        if (exid < 0 || exid > 0xffff)
        {
            throw new ConfigException("--option-exid must fit 16 bits");
        }
        return new OptionKind(kind, exid);
    }

    /** {@code --option-exid}: decimal, or hexadecimal after 0x (as ExIDs are usually written), 16 bits. */
    public static final class ExidConverter implements ITypeConverter<Integer>
    {
        @Override
        public Integer convert(final String value)
        {
            try
            {
                return Parse.hexOrDecimal(value, 0xffff);
            }
            catch (final IllegalArgumentException ex)
            {
                throw new TypeConversionException(ex.getMessage());
            }
        }
    }

    /** Writes this option into an object's opt_cfg map (struct crab_opt_cfg), before its programs attach. */
    public void writeTo(final BpfMap optCfg)
    {
        final UnsafeBuffer key = new UnsafeBuffer(new byte[4]);
        final UnsafeBuffer value = new UnsafeBuffer(new byte[Abi.OptCfg.SIZE]);
        value.putByte(Abi.OptCfg.KIND, (byte)kind);
        value.putShort(Abi.OptCfg.EXID, (short)exid, ByteOrder.BIG_ENDIAN);
        optCfg.update(key, value, BpfMap.UPDATE_ANY);
    }

    @Override
    public String toString()
    {
        return exid == 0 ? "kind " + kind : String.format("kind %d ExID 0x%04X", kind, exid);
    }
}
