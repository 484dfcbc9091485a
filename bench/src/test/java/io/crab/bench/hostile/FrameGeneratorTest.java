package io.crab.bench.hostile;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The generator without a kernel: reproducible by seed and index, bounded, and as complete as it promises. */
class FrameGeneratorTest
{
    private static final int FAMILIES = Family.values().length;

    @Test
    void aFrameDependsOnlyOnSeedAndIndex()
    {
        for (final Target target : Target.values())
        {
            final FrameGenerator campaign = new FrameGenerator(42, target.bases);
            final HostileFrame[] inOrder = new HostileFrame[500];
            for (int i = 0; i < inOrder.length; i++)
            {
                inOrder[i] = campaign.frame(i);
            }
            final FrameGenerator alone = new FrameGenerator(42, target.bases);
            for (final int i : new int[] {499, 3, 250, 0})
            {
                final HostileFrame again = alone.frame(i);
                assertArrayEquals(inOrder[i].bytes(), again.bytes(), target + " frame " + i);
                assertEquals(inOrder[i].describe(), again.describe());
            }
            int same = 0;
            final FrameGenerator otherSeed = new FrameGenerator(43, target.bases);
            for (int i = 0; i < inOrder.length; i++)
            {
                same += Arrays.equals(inOrder[i].bytes(), otherSeed.frame(i).bytes()) ? 1 : 0;
            }
            assertTrue(same < inOrder.length / 4, target + ": another seed, other frames (" + same + " alike)");
        }
    }

    @Test
    void framesAreOfTheirIndexsFamilyAndFitTheRunner()
    {
        for (final Target target : Target.values())
        {
            final FrameGenerator generator = new FrameGenerator(7, target.bases);
            final Map<Family, Integer> seen = new EnumMap<>(Family.class);
            for (int i = 0; i < 20_000; i++)
            {
                final HostileFrame frame = generator.frame(i);
                assertEquals(Family.values()[i % FAMILIES], frame.family());
                assertTrue(frame.bytes().length <= FrameGenerator.MAX_FRAME_LENGTH, frame.describe());
                seen.merge(frame.family(), 1, Integer::sum);
            }
            assertEquals(FAMILIES, seen.size());
        }
    }

    @Test
    void validFramesAreValid()
    {
        for (final Target target : Target.values())
        {
            final FrameGenerator generator = new FrameGenerator(1, target.bases);
            for (int i = 0; i < 2000; i += FAMILIES)
            {
                final byte[] frame = generator.frame(i).bytes();
                final Packet p = new Packet(frame, frame.length);
                assertTrue(p.ipChecksumValid && p.tcpChecksumValid && p.optionsParse, target + " frame " + i);
            }
        }
    }

    @Test
    void truncationsCutEveryBaseFrameAtEveryByte()
    {
        for (final Target target : Target.values())
        {
            final FrameGenerator generator = new FrameGenerator(1, target.bases);
            final Set<String> cuts = new HashSet<>();
            final int first = Family.TRUNCATED.ordinal();
            for (long c = 0; c < 200L * target.bases.size(); c++)
            {
                final HostileFrame frame = generator.frame(first + c * FAMILIES);
                cuts.add(frame.base() + " " + frame.bytes().length);
            }
            for (final BaseFrames.Base base : target.bases)
            {
                final int length = base.build().apply(OptionConfig.KIND_42,
                    new SplittableRandom(0)).build().length;
                for (int cut = 0; cut < length; cut++)
                {
                    assertTrue(cuts.contains(base.name() + " " + cut), target + ": '" + base.name() + "' cut at " +
                        cut);
                }
            }
        }
    }

    @Test
    void everyOptionKindMeetsEveryLengthWithinOneRound()
    {
        final FrameGenerator generator = new FrameGenerator(1, BaseFrames.LB);
        final Set<String> pairs = new HashSet<>();
        final int rounds = 256 * 41;
        for (long c = 0; c < rounds; c++)
        {
            final String detail = generator.frame(Family.TCP_OPTION.ordinal() + c * FAMILIES).detail();
            pairs.add(detail.substring(0, detail.indexOf(" at ")));
        }
        assertEquals(rounds, pairs.size());
        assertTrue(pairs.contains("kind 42 length 0") && pairs.contains("kind 255 length 40"));
    }

    @Test
    void theCrabOptionTakesEveryPositionAndLengthUnderBothConfigurations()
    {
        final FrameGenerator generator = new FrameGenerator(1, BaseFrames.SERVER_INGRESS);
        final Set<String> cases = new HashSet<>();
        for (long c = 0; c < 6L * 2 * 40 * 41; c++)
        {
            final HostileFrame frame = generator.frame(Family.CRAB_OPTION.ordinal() + c * FAMILIES);
            if (frame.detail().endsWith("after NOPs"))
            {
                cases.add(frame.config() + " " + frame.detail());
            }
        }
        for (final OptionConfig config : OptionConfig.values())
        {
            for (int position = 0; position < 40; position++)
            {
                for (int length = 0; length <= 40; length++)
                {
                    assertTrue(cases.contains(config + " length " + length + " at " + position + " after NOPs"),
                        config + " length " + length + " at " + position);
                }
            }
        }
    }

    @Test
    void everyTcpFlagCombinationIsMade()
    {
        final FrameGenerator generator = new FrameGenerator(1, BaseFrames.CLIENT_INGRESS);
        final Set<Integer> flags = new HashSet<>();
        for (long c = 0; c < 256; c++)
        {
            final byte[] frame = generator.frame(Family.TCP_FLAGS.ordinal() + c * FAMILIES).bytes();
            flags.add(frame[Packet.ETH_LEN + 20 + 13] & 0xff);
        }
        assertEquals(256, flags.size());
    }

    @Test
    void fragmentationNeededQuotesTheWholeFrameWithItsChecksums()
    {
        final FrameGenerator generator = new FrameGenerator(1, BaseFrames.CLIENT_INGRESS);
        int checked = 0;
        for (long c = 0; c < 400; c += 4)
        {
            final HostileFrame frame = generator.frame(Family.ICMP_ERROR.ordinal() + c * FAMILIES);
            final Packet p = new Packet(frame.bytes(), frame.bytes().length);
            assertTrue(p.icmp && p.quotedAt > 0 && p.quotedIpChecksumValid && p.quotedTcpChecksumValid,
                frame.describe());
            if (!frame.detail().contains("ICMP checksum wrong"))
            {
                assertTrue(p.ipChecksumValid && p.icmpChecksumValid, frame.describe());
                checked++;
            }
        }
        assertTrue(checked > 50, "most carry a right ICMP checksum");
    }

    @Test
    void badChecksumsAreBad()
    {
        final FrameGenerator generator = new FrameGenerator(1, BaseFrames.CLIENT_EGRESS);
        for (long c = 0; c < 3000; c++)
        {
            final byte[] frame = generator.frame(Family.BAD_CHECKSUM.ordinal() + c * FAMILIES).bytes();
            final Packet p = new Packet(frame, frame.length);
            assertFalse(p.ipChecksumValid && p.tcpChecksumValid, "frame of case " + c);
        }
    }
}
