package io.crab.lb.policy;

import io.crab.lb.BackendsFile;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * Maglev's lookup table (Eisenbud et al., NSDI 2016), weighted: for each of {@code size} slots, the member that owns
 * it, so the data path can send a connection to {@code table[hash(5-tuple) % size]} with no per-connection state.
 *
 * <p>As in the paper, each member walks its own permutation of the slots, {@code (offset + j * skip) mod size}, with
 * offset and skip from two independent hashes of its key (skip in 1..size-1, and size prime, so the walk visits every
 * slot), and the members take turns: on its turn a member claims the next slot of its permutation that is still free.
 * Removing a member deletes its turns and nothing else from the sequence of turns, so the others mostly claim the
 * same slots again: that is why the table moves little when members come and go. Little, not nothing: a freed slot
 * taken early frees a later one, and so on. With 1000 equal members in 65,537 slots, removing one moves about 0.6%
 * of the others' slots, six times its own share, and a member of weight 5 joining them moves 1.8%; a table of
 * 655,373 slots cuts these to about 0.3% and 0.5% for twelve times the build time (80 ms on a 2-core VM).
 *
 * <p><b>Weights.</b> The paper's members take one turn each per round, which gives equal shares. Here a member of
 * weight w takes its k-th turn (k = 0, 1, ...) at virtual time (2k + 1) / 2w, and turns are taken in order of virtual
 * time, ties broken by key. A member's turn times depend on its own weight only, so removing a member still deletes
 * just its own turns, which keeps the paper's small disruption. After all {@code size} turns each member has taken
 * the turns due by the same virtual time T, which is {@code round(T * w)} (Sainte-Laguë rounding), and every turn
 * claims one slot: each member's share of the table is its weight's share to within about one slot. With equal
 * weights this is exactly the paper's round-robin, members ordered by key. A member whose share is under half a slot
 * may get no slot at all.
 *
 * <p><b>Determinism.</b> The table depends on the members' keys and weights, never on the order of the list: members
 * are put in key order before they take turns, so a configuration reload that only reorders backends moves nothing.
 * The hash is this class's own and fixed: changing it, or its seeds, would move every slot of every table.
 */
public final class MaglevTable
{
    /**
     * The paper's size: prime, and at least 100 slots for each of up to 655 backends of equal weight, so that a slot
     * more or less is at most 1% of a backend's share.
     */
    public static final int DEFAULT_SIZE = 65_537;

    /**
     * The largest size accepted: 4 MB of slots per service in the data path's map, and still 100 slots for each of
     * 10,000 backends, ten times the LB's backend limit. A larger table would gain little for its memory and its
     * build time, which is already about 125 ms at this size.
     */
    public static final int MAX_SIZE = 1_000_003;

    private static final long OFFSET_SEED = 0x2545F4914F6CDD1DL;
    private static final long SKIP_SEED = 0x6A09E667F3BCC909L;
    private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;
    private static final int FREE = -1;

    private MaglevTable()
    {
    }

    /**
     * A backend as the table sees it.
     *
     * @param key    the backend's stable identity, e.g. "198.18.0.101:8080": its slots follow the key, not its
     *               position in a list
     * @param weight 1..{@link BackendsFile#MAX_WEIGHT}, its share of the slots relative to the others
     */
    public record Member(String key, int weight)
    {
        public Member
        {
            Objects.requireNonNull(key, "key");
            if (key.isEmpty())
            {
                throw new IllegalArgumentException("member key is empty");
            }
            if (weight < 1 || weight > BackendsFile.MAX_WEIGHT)
            {
                throw new IllegalArgumentException("member " + key + ": weight must be 1.." + BackendsFile.MAX_WEIGHT +
                    ", got " + weight);
            }
        }
    }

    /**
     * Builds the table.
     *
     * @param members the backends, keys distinct, in any order
     * @param size    the number of slots: prime, at least the number of members and at most {@link #MAX_SIZE}
     * @return for each slot the index into {@code members} of its owner; an empty array when there are no members
     * (a service with no usable backend has no table, as its round-robin slot table is empty then)
     * @throws IllegalArgumentException for a size that is not prime or out of bounds, or a key listed twice
     */
    public static int[] build(final List<Member> members, final int size)
    {
        final int count = members.size();
        if (size > MAX_SIZE)
        {
            throw new IllegalArgumentException("table size " + size + " is above the maximum " + MAX_SIZE);
        }
        if (!isPrime(size))
        {
            throw new IllegalArgumentException("table size " + size + " is not prime (e.g. " + DEFAULT_SIZE + ")");
        }
        if (size < count)
        {
            throw new IllegalArgumentException("table size " + size + " is smaller than the " + count + " members");
        }
        if (count == 0)
        {
            return new int[0];
        }

        final int[] memberIndexByRank = IntStream.range(0, count).boxed()
            .sorted(Comparator.comparing(i -> members.get(i).key())).mapToInt(Integer::intValue).toArray();
        final int[] weight = new int[count];
        final int[] position = new int[count];
        final int[] skip = new int[count];
        final int[] turns = new int[count];
        final int[] heap = new int[count];
        for (int rank = 0; rank < count; rank++)
        {
            final Member member = members.get(memberIndexByRank[rank]);
            if (rank > 0 && member.key().equals(members.get(memberIndexByRank[rank - 1]).key()))
            {
                throw new IllegalArgumentException("member " + member.key() + " is listed twice");
            }
            final byte[] key = member.key().getBytes(StandardCharsets.UTF_8);
            weight[rank] = member.weight();
            position[rank] = (int)Long.remainderUnsigned(hash(key, OFFSET_SEED), size);
            skip[rank] = (int)Long.remainderUnsigned(hash(key, SKIP_SEED), size - 1) + 1;
            heap[rank] = rank;
        }
        for (int parent = count / 2 - 1; parent >= 0; parent--)
        {
            siftDown(heap, parent, turns, weight);
        }

        final int[] table = new int[size];
        Arrays.fill(table, FREE);
        for (int filled = 0; filled < size; filled++)
        {
            final int rank = heap[0];
            final int step = skip[rank];
            int slot = position[rank];
            while (table[slot] != FREE)
            {
                slot = advance(slot, step, size);
            }
            table[slot] = memberIndexByRank[rank];
            position[rank] = advance(slot, step, size);
            turns[rank]++;
            siftDown(heap, 0, turns, weight);
        }
        return table;
    }

    /** The next slot of a permutation; size is at most {@link #MAX_SIZE}, so the sum cannot overflow. */
    private static int advance(final int slot, final int step, final int size)
    {
        final int next = slot + step;
        return next >= size ? next - size : next;
    }

    /** Restores the min-heap of ranks, ordered by next turn time, below {@code at}. */
    private static void siftDown(final int[] heap, final int at, final int[] turns, final int[] weight)
    {
        final int count = heap.length;
        final int moving = heap[at];
        int hole = at;
        while (true)
        {
            int child = 2 * hole + 1;
            if (child >= count)
            {
                break;
            }
            if (child + 1 < count && turnsBefore(heap[child + 1], heap[child], turns, weight))
            {
                child++;
            }
            if (!turnsBefore(heap[child], moving, turns, weight))
            {
                break;
            }
            heap[hole] = heap[child];
            hole = child;
        }
        heap[hole] = moving;
    }

    /**
     * Whether rank a's next turn, at (2 * turns[a] + 1) / (2 * weight[a]), comes before rank b's; compared by cross
     * multiplication, which is exact. The lower rank (key order) goes first on a tie.
     */
    private static boolean turnsBefore(final int a, final int b, final int[] turns, final int[] weight)
    {
        final long timeA = (2L * turns[a] + 1) * weight[b];
        final long timeB = (2L * turns[b] + 1) * weight[a];
        return timeA < timeB || (timeA == timeB && a < b);
    }

    /**
     * A 64-bit hash of the key's bytes: each 8-byte word (the last zero-padded) and then the length are folded in
     * through SplitMix64's finalizer, a bijection in which every input bit affects every output bit, so two seeds
     * give two hashes that behave as independent.
     */
    private static long hash(final byte[] bytes, final long seed)
    {
        long h = seed;
        for (int at = 0; at < bytes.length; at += Long.BYTES)
        {
            long word = 0;
            for (int i = Math.min(bytes.length - at, Long.BYTES) - 1; i >= 0; i--)
            {
                word = (word << 8) | (bytes[at + i] & 0xFFL);
            }
            h = mix((h ^ word) + GOLDEN_GAMMA);
        }
        return mix((h ^ bytes.length) + GOLDEN_GAMMA);
    }

    private static long mix(final long value)
    {
        long z = value;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public static boolean isPrime(final int n)
    {
        if (n < 2)
        {
            return false;
        }
        for (int d = 2; (long)d * d <= n; d++)
        {
            if (n % d == 0)
            {
                return false;
            }
        }
        return true;
    }
}
