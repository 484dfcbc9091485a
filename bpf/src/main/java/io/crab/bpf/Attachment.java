package io.crab.bpf;

/** A program attached to a hook; closing it detaches the program, and does so once only. */
public interface Attachment extends AutoCloseable
{
    @Override
    void close();
}
