package io.crab.bpf.testing;

import io.crab.bpf.frames.Frames;
import org.pcap4j.packet.EthernetPacket;
import org.pcap4j.packet.IpV4Packet;
import org.pcap4j.packet.TcpPacket;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Assertions on frames that programs produced. */
public final class FrameAssertions
{
    private FrameAssertions()
    {
    }

    /** Both checksums valid, by this class's sum and independently by pcap4j's parser. */
    public static void assertChecksumsValid(final byte[] frame) throws Exception
    {
        assertTrue(Frames.ipChecksumValid(frame), "IPv4 checksum");
        assertTrue(Frames.tcpChecksumValid(frame), "TCP checksum");
        final EthernetPacket eth = EthernetPacket.newPacket(frame, 0, frame.length);
        final IpV4Packet ipv4 = eth.get(IpV4Packet.class);
        final TcpPacket tcp = eth.get(TcpPacket.class);
        assertTrue(ipv4.getHeader().hasValidChecksum(false), "pcap4j: IPv4 checksum");
        assertTrue(tcp.hasValidChecksum(ipv4.getHeader().getSrcAddr(), ipv4.getHeader().getDstAddr(), false),
            "pcap4j: TCP checksum");
    }

}
