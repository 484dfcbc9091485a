package io.crab.lb.policy;

import io.crab.lb.policy.MaglevTable.Member;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What a lookup table promises, measured: how far members' shares are from their weights' shares, and how many
 * slots change owner when the members change. The tests hold {@link MaglevTable} to these, and the bench reports
 * them.
 */
public final class MaglevMeasures
{
    private MaglevMeasures()
    {
    }

    /**
     * The largest difference, over the members, between a member's share of the slots and its weight's share of the
     * total weight, in absolute share points (0.01 is one percentage point).
     */
    public static double maxShareDeviation(final List<Member> members, final int[] table)
    {
        final long[] owned = new long[members.size()];
        for (final int owner : table)
        {
            owned[owner]++;
        }
        final long totalWeight = members.stream().mapToLong(Member::weight).sum();
        double worst = 0;
        for (int i = 0; i < owned.length; i++)
        {
            final double share = (double)owned[i] / table.length;
            final double due = (double)members.get(i).weight() / totalWeight;
            worst = Math.max(worst, Math.abs(share - due));
        }
        return worst;
    }

    /**
     * The share of all slots that changed owner between two tables of the same size, counting only slots whose owner
     * before and owner after are both members of both sets, by key. A removed member's slots must move and an added
     * member's slots must be taken from someone, so those are left out: what remains is the needless disruption,
     * connections of backends that stayed that a hash table sends elsewhere.
     */
    public static double movedAmongStaying(final List<Member> before, final int[] beforeTable,
        final List<Member> after, final int[] afterTable)
    {
        if (beforeTable.length != afterTable.length)
        {
            throw new IllegalArgumentException("tables of " + beforeTable.length + " and " + afterTable.length +
                " slots cannot be compared");
        }
        final Map<String, Integer> afterIndex = new HashMap<>();
        for (int i = 0; i < after.size(); i++)
        {
            afterIndex.put(after.get(i).key(), i);
        }
        final int[] afterIndexOfBefore = new int[before.size()];
        final boolean[] staysAfter = new boolean[after.size()];
        for (int i = 0; i < before.size(); i++)
        {
            final Integer index = afterIndex.get(before.get(i).key());
            afterIndexOfBefore[i] = index == null ? -1 : index;
            if (index != null)
            {
                staysAfter[index] = true;
            }
        }
        long moved = 0;
        for (int slot = 0; slot < beforeTable.length; slot++)
        {
            final int ownerBefore = afterIndexOfBefore[beforeTable[slot]];
            final int ownerAfter = afterTable[slot];
            if (ownerBefore >= 0 && staysAfter[ownerAfter] && ownerBefore != ownerAfter)
            {
                moved++;
            }
        }
        return (double)moved / beforeTable.length;
    }
}
