package io.crab.bench.hostile;

/**
 * The kinds of hostile frame. Frame {@code i} of a campaign is of family {@code i % values().length}, and is that
 * family's case {@code i / values().length}: families that promise "every" value enumerate it by case number, so
 * a campaign of a few hundred thousand frames per program covers every combination.
 */
enum Family
{
    VALID("the base frames as they are: the programs' deep paths"),
    TRUNCATED("a valid frame cut at every byte"),
    TCP_OPTION("every option kind 0..255 with every length byte 0..40, at an option boundary of valid options"),
    EOL_NOP_RUNS("runs of EOL and NOP of every length 0..40, before, after and instead of the options"),
    CRAB_OPTION("the configured option (kind 42, or 253 with ExID) at every position 0..39 with every length"
        + " 0..40 after NOPs or real options; marker and redirect forms; duplicates; the other kind; wrong ExID"),
    DOFF_LIE("TCP data offset 0..15 whatever the header holds"),
    TOT_LEN_LIE("IPv4 total length below, at and above the frame's, extremes, short but consistent, and Ethernet"
        + " padding after a consistent datagram"),
    IP_OPTIONS("ihl 6..15: real or random IP options, or a larger ihl over the same bytes"),
    IHL_SHORT("ihl 0..4"),
    FRAGMENT("first, middle and last fragments, DF with MF, the reserved flag, any flags and offset"),
    VLAN("802.1Q, 802.1ad+802.1Q and double 802.1Q tags before IPv4"),
    ETHERTYPE("IPv6 carrying the TCP segment, ARP, other ethertypes, IP versions other than 4, 802.3 lengths"),
    PROTOCOL("UDP, ICMP echo, other protocol numbers"),
    ICMP_ERROR("ICMP errors quoting the frame or the frame the other way: fragmentation needed, every type,"
        + " quotes cut at every length, quoted headers that lie, from a router or the quoted destination"),
    TCP_FLAGS("all 256 TCP flag combinations with all 16 values of the reserved bits"),
    BAD_CHECKSUM("a wrong IPv4 header checksum, TCP checksum, or both"),
    BIT_FLIPS("1 to 8 bytes of a valid frame changed, in a bit or whole, checksums fixed or not"),
    RANDOM_BYTES("random bytes of length 0..192, or random bytes behind valid Ethernet and IPv4 headers");

    final String description;

    Family(final String description)
    {
        this.description = description;
    }
}
