package io.crab.bench.hostile;

import io.crab.bpf.Abi;
import io.crab.bpf.BpfMap;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The two ways crab's option can be configured (opt_cfg): kind 42, or the experimental kind 253 with an ExID
 * (RFC 6994). The campaign switches between them frame by frame, and builds each frame's crab options for the one
 * it runs under.
 */
enum OptionConfig
{
    KIND_42(42, 0),
    EXPERIMENTAL(253, 0xC4AB);

    final int kind;
    /** 0: none. */
    final int exid;

    OptionConfig(final int kind, final int exid)
    {
        this.kind = kind;
        this.exid = exid;
    }

    /** Kind and length, and the ExID when there is one: the bytes before an option's data. */
    int headerLength()
    {
        return exid == 0 ? 2 : 4;
    }

    /** Length byte of the client's marker. */
    int markerLength()
    {
        return headerLength();
    }

    /** Length byte of the redirect option: the VIP, and the VIP's port when the backend's port differs. */
    int redirectLength(final boolean withPort)
    {
        return headerLength() + (withPort ? 6 : 4);
    }

    /** The marker, NOP-padded to 4 bytes as the client writes it. */
    byte[] marker()
    {
        return padded(option(markerLength(), new byte[0]));
    }

    /** The redirect option naming {@code vip} (and {@code vipPort} when it is 0 or more), NOP-padded to 4 bytes. */
    byte[] redirect(final byte[] vip, final int vipPort)
    {
        final byte[] data = vipPort < 0 ? vip.clone() :
            new byte[] {vip[0], vip[1], vip[2], vip[3], (byte)(vipPort >> 8), (byte)vipPort};
        return padded(option(redirectLength(vipPort >= 0), data));
    }

    /** kind, length, the ExID if configured, then data: exactly {@code length} bytes, data cut or zero-filled. */
    byte[] option(final int length, final byte[] data)
    {
        final byte[] out = new byte[Math.max(length, 2)];
        out[0] = (byte)kind;
        out[1] = (byte)length;
        int at = 2;
        if (exid != 0)
        {
            at = put(out, at, (byte)(exid >> 8));
            at = put(out, at, (byte)exid);
        }
        for (int i = 0; i < data.length; i++)
        {
            at = put(out, at, data[i]);
        }
        return out;
    }

    /** True when the option at {@code frame[at]}, of length {@code length}, is this configuration's kind. */
    boolean isOurs(final byte[] frame, final int at, final int length)
    {
        if ((frame[at] & 0xff) != kind)
        {
            return false;
        }
        return exid == 0 || length >= 4 && (((frame[at + 2] & 0xff) << 8) | (frame[at + 3] & 0xff)) == exid;
    }

    /** Writes this configuration into an object's opt_cfg map. */
    void writeTo(final BpfMap optCfg, final UnsafeBuffer key, final UnsafeBuffer value)
    {
        key.putInt(0, 0);
        value.setMemory(0, Abi.OptCfg.SIZE, (byte)0);
        value.putByte(Abi.OptCfg.KIND, (byte)kind);
        value.putShort(Abi.OptCfg.EXID, (short)exid, ByteOrder.BIG_ENDIAN);
        optCfg.update(key, value, BpfMap.UPDATE_ANY);
    }

    private static int put(final byte[] out, final int at, final byte b)
    {
        if (at < out.length)
        {
            out[at] = b;
        }
        return at + 1;
    }

    static byte[] padded(final byte[] option)
    {
        final byte[] out = new byte[(option.length + 3) & ~3];
        Arrays.fill(out, (byte)Packet.TCPOPT_NOP);
        System.arraycopy(option, 0, out, 0, option.length);
        return out;
    }
}
