package io.crab.bench.hostile;

import java.util.List;

import static io.crab.bpf.frames.Frames.ip;
import static io.crab.bpf.frames.Frames.mac;

/**
 * The hosts, VIPs and flows of the campaign: the fixtures put them into the maps and the base frames aim at them, so
 * hostile frames reach the programs' deep paths (redirect, accept, rewrite, echo) and not only their first checks.
 */
final class Pool
{
    static final byte[] LB_MAC = mac("02:00:00:00:00:02");
    static final byte[] CLIENT_MAC = mac("02:00:00:00:00:11");
    static final byte[] CLIENT = ip("198.18.0.11");
    /** The link clients, backends and the LB share, 198.18.0.0/24. */
    static final byte[] BACKEND_NET = ip("198.18.0.0");
    static final byte[] DIP1 = ip("198.18.0.101");
    static final byte[] DIP1_MAC = mac("02:00:00:00:01:01");
    static final byte[] DIP2 = ip("198.18.0.102");
    static final byte[] DIP2_MAC = mac("02:00:00:00:01:02");
    /** On the LB's link, but with no neighbour entry: the LB's FIB lookup cannot resolve it. */
    static final byte[] DIP_UNRESOLVED = ip("198.18.0.104");
    /** A router between client and backend, the source of ICMP errors. */
    static final byte[] ROUTER = ip("198.18.0.1");

    /** Every port of this VIP is balanced: LB to DIP1 and DIP2 round-robin; a client VIP. */
    static final byte[] VIP_ALL_PORTS = ip("198.19.0.1");
    /** Only port 80: LB to DIP1:8080 by hash (port redirection); a client VIP on port 80. */
    static final byte[] VIP_PORT_80 = ip("198.19.0.2");
    /** LB only: redirects SYNs without the client's marker, random policy, to DIP2. */
    static final byte[] VIP_UNMARKED = ip("198.19.0.3");
    /** LB only: configured with no backend ready. */
    static final byte[] VIP_NO_BACKEND = ip("198.19.0.4");
    /** LB only: its one backend is DIP_UNRESOLVED. */
    static final byte[] VIP_NO_ROUTE = ip("198.19.0.5");
    static final byte[] NOT_A_VIP = ip("198.19.0.9");
    static final int VIP_PORT = 80;
    static final int BACKEND_PORT = 8080;
    static final int SERVER_ISN = 5_000_000;

    /** Client flows: the client fixture holds them (pending or redirected), the server fixture their echoes. */
    static final Flow PENDING = new Flow(40001, VIP_ALL_PORTS, VIP_PORT, DIP1, DIP1_MAC, VIP_PORT, false);
    static final Flow PENDING_PORTED = new Flow(40002, VIP_PORT_80, VIP_PORT, DIP1, DIP1_MAC, BACKEND_PORT, false);
    static final Flow REDIRECTED = new Flow(40003, VIP_ALL_PORTS, VIP_PORT, DIP1, DIP1_MAC, VIP_PORT, false);
    static final Flow REDIRECTED_PORTED =
        new Flow(40004, VIP_PORT_80, VIP_PORT, DIP1, DIP1_MAC, BACKEND_PORT, false);
    static final Flow CLOSING = new Flow(40005, VIP_ALL_PORTS, 443, DIP2, DIP2_MAC, 443, true);
    /**
     * Shares PENDING's local port, to the other VIP, and holds DIP1:80 on the wire: PENDING redirected to DIP1:80
     * would collide with it, and a new SYN from the port to VIP_ALL_PORTS finds the port taken.
     */
    static final Flow COLLIDING =
        new Flow(PENDING.clientPort(), VIP_PORT_80, VIP_PORT, DIP1, DIP1_MAC, VIP_PORT, false);
    /** The server saw its option once, longer ago than a SYN can be retransmitted. */
    static final Flow EXPIRED = new Flow(40006, VIP_ALL_PORTS, VIP_PORT, DIP1, DIP1_MAC, VIP_PORT, false);
    static final List<Flow> PENDING_FLOWS = List.of(PENDING, PENDING_PORTED);
    static final List<Flow> REDIRECTED_FLOWS = List.of(REDIRECTED, REDIRECTED_PORTED, CLOSING, COLLIDING);
    static final List<Flow> FLOWS =
        List.of(PENDING, PENDING_PORTED, REDIRECTED, REDIRECTED_PORTED, CLOSING, COLLIDING, EXPIRED);
    /** Client ports of new connections: frames from them start flows the fixtures do not hold. */
    static final int[] NEW_PORTS = {40010, 40011};

    private Pool()
    {
    }

    /**
     * A connection from CLIENT to a VIP that a backend serves.
     *
     * @param clientPort the client's port
     * @param vip        the address the client connects to
     * @param vipPort    its port
     * @param dip        the backend
     * @param dipMac     the backend's MAC, the client's next hop once redirected
     * @param dipPort    the backend's port (differs from vipPort under port redirection)
     * @param closing    FINs went both ways already: the flow no longer holds its tuple
     */
    record Flow(int clientPort, byte[] vip, int vipPort, byte[] dip, byte[] dipMac, int dipPort, boolean closing)
    {
        /** The client's ISN: one per flow, so a SYN-ACK acknowledges only its own flow's SYN. */
        long isn()
        {
            return clientPort * 1000L;
        }

        /** The VIP's port as the redirect option carries it: only when the backend's port differs. */
        int optionPort()
        {
            return dipPort == vipPort ? -1 : vipPort;
        }
    }
}
