package io.crab.bench.syncost;

import io.crab.bpf.Bpf;
import io.crab.bpf.BpfMap;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.frames.Frames;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;

/**
 * The simplest XDP load balancer (bench/src/main/bpf/ref_lb.bpf.c), loaded with the fixture's VIP on port 80 and
 * its backends: the yardstick syn-cost puts beside crab_lb, since "as cheap as the simplest XDP load balancer" is
 * a question about it, not about a program that does nothing.
 */
final class ReferenceLb implements AutoCloseable
{
    static final String PROGRAM = "ref_lb";
    /** The port of SynCost's frames. */
    private static final int VIP_PORT = 80;

    private final BpfObject object;

    ReferenceLb()
    {
        object = Bpf.load(PROGRAM);
        try
        {
            final UnsafeBuffer key = new UnsafeBuffer(new byte[8]);
            final UnsafeBuffer value = new UnsafeBuffer(new byte[16]);
            for (int i = 0; i < LbFixture.BACKEND_IPS.length; i++)
            {
                key.putInt(0, i, ByteOrder.nativeOrder());
                value.setMemory(0, value.capacity(), (byte)0);
                value.putBytes(0, LbFixture.BACKEND_IPS[i]);
                value.putBytes(4, Frames.mac(LbFixture.BACKEND_MACS[i]));
                object.map("ref_backends").update(key, value, BpfMap.UPDATE_ANY);
            }
            key.setMemory(0, key.capacity(), (byte)0);
            key.putBytes(0, LbFixture.VIP);
            key.putShort(4, (short)VIP_PORT, ByteOrder.BIG_ENDIAN);
            value.setMemory(0, value.capacity(), (byte)0);
            value.putInt(0, 0, ByteOrder.nativeOrder());
            value.putInt(4, LbFixture.BACKEND_IPS.length, ByteOrder.nativeOrder());
            object.map("ref_vips").update(key, value, BpfMap.UPDATE_ANY);
        }
        catch (final RuntimeException ex)
        {
            object.close();
            throw ex;
        }
    }

    BpfProgram program()
    {
        return object.program(PROGRAM);
    }

    @Override
    public void close()
    {
        object.close();
    }
}
