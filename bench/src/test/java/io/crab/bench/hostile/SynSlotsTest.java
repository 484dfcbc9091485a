package io.crab.bench.hostile;

import io.crab.bpf.Abi;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.frames.Frames;
import io.crab.bpf.testing.KernelRequired;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The fixture's remembered SYNs sit where the LB program looks: Java and C compute the same slot. */
@ExtendWith(KernelRequired.class)
class SynSlotsTest
{
    private static final int XDP_TX = 3;

    @Test
    void aRetransmissionOfASynWhoseBackendWentDownIsFoundAndBalancedAgain()
    {
        try (Fixture lb = Fixture.lb())
        {
            final long[] before = new long[lb.counterCount()];
            final long[] after = new long[lb.counterCount()];
            for (final int port : Fixture.LB_PORTS_OF_A_DOWN_BACKEND)
            {
                final Frames.Tcp syn = new Frames.Tcp();
                syn.dstMac = Pool.LB_MAC;
                syn.srcMac = Pool.CLIENT_MAC;
                syn.srcIp = Pool.CLIENT;
                syn.dstIp = Pool.VIP_ALL_PORTS;
                syn.srcPort = port;
                syn.dstPort = Pool.VIP_PORT;
                syn.seq = BaseFrames.lbIsn(port);
                syn.options = Frames.concat(Frames.LINUX_SYN_OPTIONS, OptionConfig.KIND_42.marker());
                final byte[] frame = syn.build();
                final int verdict = lb.call(() ->
                {
                    lb.prepare(OptionConfig.KIND_42);
                    final BpfProgram.FrameRunner runner = lb.runner("crab_lb", 256);
                    lb.readCounters(before);
                    runner.frame().putBytes(0, frame);
                    assertEquals(0, runner.run(frame.length));
                    lb.readCounters(after);
                    return runner.verdict();
                });
                assertEquals(XDP_TX, verdict, "port " + port);
                assertEquals(1, after[Abi.Consts.CRAB_LB_TX_REBALANCED] - before[Abi.Consts.CRAB_LB_TX_REBALANCED],
                    "port " + port + ": found in its slot, its backend down");
            }
        }
    }
}
