package io.crab.bench.traffic;

import java.io.EOFException;
import java.io.IOException;
import java.net.SocketException;
import java.net.SocketTimeoutException;

/** Why a CRR or RR transaction failed. */
public enum FailureKind
{
    /** The connection could not be established: refused, unreachable or connect timeout. */
    CONNECT,
    /** Connected, but the echo did not arrive within the read timeout. */
    TIMEOUT,
    /** Connected, but the peer reset or closed the connection before the whole echo arrived. */
    RESET,
    /** The echo arrived but differs from what was sent. */
    MISMATCH,
    /** Anything else. */
    OTHER;

    /** Maps what a transaction threw to its kind; connect failures arrive already wrapped by the worker. */
    static FailureKind of(final Throwable failure)
    {
        if (failure instanceof ConnectFailedException)
        {
            return CONNECT;
        }
        if (failure instanceof MismatchException)
        {
            return MISMATCH;
        }
        if (failure instanceof SocketTimeoutException)
        {
            return TIMEOUT;
        }
        // Past connect, a SocketException means the connection was torn down under us (reset, broken pipe).
        if (failure instanceof EOFException || failure instanceof SocketException)
        {
            return RESET;
        }
        return OTHER;
    }

    /** Marks a failure to establish the connection, so a connect timeout is not mistaken for a read timeout. */
    static final class ConnectFailedException extends IOException
    {
        private static final long serialVersionUID = 1L;

        ConnectFailedException(final IOException cause)
        {
            super(cause.getMessage(), cause);
        }
    }

    /** The echo differs from the request. */
    static final class MismatchException extends IOException
    {
        private static final long serialVersionUID = 1L;

        MismatchException(final long sequence)
        {
            super("echo of transaction " + sequence + " differs from the request");
        }
    }
}
