package io.crab.agent;

import org.agrona.ErrorHandler;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.IdleStrategy;
import sun.misc.Signal;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * Runs one agent's duty cycle on the calling thread until SIGINT/SIGTERM (or {@link #stop}), then closes it. The
 * signals end the duty cycle, so the command returns normally and exits 0; the shutdown hook covers any other way
 * the JVM goes down. An exception inside the duty cycle goes to the error handler and the cycle goes on: the data
 * path lives in the kernel and must never depend on the agent's luck.
 */
public final class AgentMain
{
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final CountDownLatch closed = new CountDownLatch(1);

    public void stop()
    {
        running.set(false);
    }

    /**
     * Logs readiness, an event whose message starts with "ready" (what scripts and tests wait for), then works until
     * stopped.
     */
    public void run(final Agent agent, final IdleStrategy idle, final ErrorHandler errors, final String readyMessage,
        final Log log) throws Exception
    {
        run(agent, idle, errors, () -> readyMessage, log);
    }

    /**
     * {@link #run(Agent, IdleStrategy, ErrorHandler, String, Log)} with a ready message made once the agent has
     * started, for what only its start finds out.
     */
    public void run(final Agent agent, final IdleStrategy idle, final ErrorHandler errors,
        final Supplier<String> readyMessage, final Log log) throws Exception
    {
        final Thread hook = new Thread(() ->
        {
            stop();
            try
            {
                closed.await();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }, "crab-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        Signal.handle(new Signal("TERM"), signal -> stop());
        Signal.handle(new Signal("INT"), signal -> stop());
        try
        {
            agent.onStart();
            log.info(readyMessage.get());
            while (running.get())
            {
                int work = 0;
                try
                {
                    work = agent.doWork();
                }
                catch (final Exception ex)
                {
                    errors.onError(ex);
                }
                idle.idle(work);
            }
        }
        finally
        {
            try
            {
                agent.onClose();
            }
            finally
            {
                closed.countDown();
                removeHook(hook);
            }
        }
    }

    private static void removeHook(final Thread hook)
    {
        try
        {
            Runtime.getRuntime().removeShutdownHook(hook);
        }
        catch (final IllegalStateException shuttingDown)
        {
            // the hook is what is running us down
        }
    }
}
