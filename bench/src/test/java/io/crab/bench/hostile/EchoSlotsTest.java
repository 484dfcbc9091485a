package io.crab.bench.hostile;

import io.crab.agent.OptionKind;
import io.crab.bpf.Abi;
import io.crab.bpf.Bpf;
import io.crab.bpf.BpfObject;
import io.crab.bpf.BpfProgram;
import io.crab.bpf.frames.Frames;
import io.crab.bpf.testing.KernelRequired;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import static io.crab.bpf.frames.Frames.ACK;
import static io.crab.bpf.frames.Frames.SYN;
import static io.crab.bpf.frames.Frames.bytes;
import static io.crab.bpf.frames.Frames.concat;
import static io.crab.bpf.frames.Frames.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The server's echo memory keeps two handshakes per pair of slots, and a third one in the same pair takes the
 * older slot: found with the pair Java computes for a tuple (SynSlots.echoSlotOf), so this also checks that Java
 * and C agree on where a tuple's echo lives.
 */
@ExtendWith(KernelRequired.class)
class EchoSlotsTest
{
    private static final byte[] CLIENT = ip("198.18.0.11");
    private static final byte[] DIP = ip("198.18.0.101");
    private static final byte[] VIP = ip("198.19.0.1");
    private static final int PORT = 80;
    private static final byte[] OPTION = concat(bytes(42, 6), VIP, bytes(1, 1));
    private static final byte[] SYNACK_OPTIONS = bytes(2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7);

    @Test
    void aPairHoldsTwoHandshakesAndAThirdTakesTheOlderSlot()
    {
        final List<Integer> ports = clientPortsOfOnePair(3);
        final int first = ports.get(0);
        final int second = ports.get(1);
        final int third = ports.get(2);
        try (BpfObject server = Bpf.load("server_tc"))
        {
            OptionKind.DEFAULT.writeTo(server.map(Abi.Maps.OPT_CFG));
            final BpfProgram ingress = server.program("crab_server_ingress");
            final BpfProgram egress = server.program("crab_server_egress");

            ingress.testRun(redirectedSyn(first), 1);
            ingress.testRun(redirectedSyn(second), 1);
            assertTrue(echoed(egress, first), "two handshakes in one pair: the first keeps its echo");
            assertTrue(echoed(egress, second), "and so does the second");

            ingress.testRun(redirectedSyn(third), 1);
            assertTrue(!echoed(egress, first), "a third took the older slot");
            assertTrue(echoed(egress, second));
            assertTrue(echoed(egress, third));

            ingress.testRun(redirectedSyn(third), 1);
            assertTrue(echoed(egress, second), "a retransmitted SYN keeps its own slot, not its neighbour's");
            assertTrue(echoed(egress, third));
        }
    }

    /** The first {@code count} client ports whose tuples with (DIP:80) share their pair of echo slots. */
    private static List<Integer> clientPortsOfOnePair(final int count)
    {
        final int[] firstPortOfPair = new int[Abi.Consts.CRAB_ECHO_SLOTS];
        final List<List<Integer>> byPair = new ArrayList<>();
        for (int port = 1024; port < 65536; port++)
        {
            final UnsafeBuffer tuple = new UnsafeBuffer(new byte[Abi.FlowKey.SIZE]);
            tuple.putBytes(Abi.FlowKey.LOCAL_ADDR, DIP);
            tuple.putBytes(Abi.FlowKey.REMOTE_ADDR, CLIENT);
            tuple.putShort(Abi.FlowKey.LOCAL_PORT, (short)PORT, ByteOrder.BIG_ENDIAN);
            tuple.putShort(Abi.FlowKey.REMOTE_PORT, (short)port, ByteOrder.BIG_ENDIAN);
            final int slot = SynSlots.echoSlotOf(tuple);
            assertEquals(0, slot % 2, "a pair starts at an even slot");
            if (firstPortOfPair[slot] == 0)
            {
                firstPortOfPair[slot] = byPair.size() + 1;
                byPair.add(new ArrayList<>());
            }
            final List<Integer> pair = byPair.get(firstPortOfPair[slot] - 1);
            pair.add(port);
            if (pair.size() == count)
            {
                return pair;
            }
        }
        throw new AssertionError("no pair of echo slots has " + count + " client ports");
    }

    private static byte[] redirectedSyn(final int clientPort)
    {
        final Frames.Tcp syn = new Frames.Tcp();
        syn.srcIp = CLIENT;
        syn.dstIp = DIP;
        syn.srcPort = clientPort;
        syn.dstPort = PORT;
        syn.options = concat(OPTION, Frames.LINUX_SYN_OPTIONS, bytes(1, 1, 1, 1));
        return syn.build();
    }

    /** Whether the server's SYN-ACK to the client port leaves with the option echoed (it grows by the option). */
    private static boolean echoed(final BpfProgram egress, final int clientPort)
    {
        final Frames.Tcp synAck = new Frames.Tcp();
        synAck.srcIp = DIP;
        synAck.dstIp = CLIENT;
        synAck.srcPort = PORT;
        synAck.dstPort = clientPort;
        synAck.seq = 5000;
        synAck.ack = 1001;
        synAck.flags = SYN | ACK;
        synAck.options = SYNACK_OPTIONS.clone();
        final byte[] frame = synAck.build();
        return egress.testRun(frame, 1).frameOut().length == frame.length + OPTION.length;
    }
}
