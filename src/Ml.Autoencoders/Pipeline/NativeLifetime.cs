namespace Ml.Autoencoders.Pipeline;

/// <summary>
/// The one way every transformer of the library frees its native memory (weights, training rows): <see cref="Release"/>
/// waits for the batches being computed, frees once, and from then on <see cref="Use"/> and <see cref="ThrowIfReleased"/>
/// throw an <see cref="ObjectDisposedException"/> that names the transformer and says what happened.
/// </summary>
/// <remarks>
/// Cursors and mapped rows hold a read lease only while one batch is computed, so concurrent cursors and prediction
/// engines never wait for each other; <see cref="Release"/> takes the write side, so native memory is never freed under
/// a running forward pass.
/// </remarks>
internal sealed class NativeLifetime
{
    private readonly ReaderWriterLockSlim gate = new(LockRecursionPolicy.SupportsRecursion);
    private readonly string transformerName;
    private readonly string releaseCalls;
    private readonly Action free;
    private readonly Func<bool>? freedElsewhere;
    private volatile bool released;

    /// <param name="transformerName">The public type, as the exception names it.</param>
    /// <param name="releaseCalls">The calls that free it, for the message ("Release() or Model.Dispose()").</param>
    /// <param name="free">Frees the native memory (run once).</param>
    /// <param name="freedElsewhere">True when the memory was freed by an older call that bypasses <see cref="Release"/>.</param>
    public NativeLifetime(string transformerName, string releaseCalls, Action free, Func<bool>? freedElsewhere = null)
    {
        this.transformerName = transformerName;
        this.releaseCalls = releaseCalls;
        this.free = free;
        this.freedElsewhere = freedElsewhere;
    }

    /// <summary>True once the native memory is freed, by <see cref="Release"/> or by an older call.</summary>
    public bool IsReleased => released || freedElsewhere?.Invoke() == true;

    /// <summary>Frees the native memory once, after the batches being computed finish; later calls do nothing.</summary>
    public void Release()
    {
        gate.EnterWriteLock();
        try
        {
            if (released) return;
            released = true;
            free();
        }
        finally
        {
            gate.ExitWriteLock();
        }
    }

    /// <summary>Holds the native memory for one batch: <see cref="Release"/> waits until the lease is disposed.</summary>
    /// <exception cref="ObjectDisposedException">The transformer was released.</exception>
    public Lease Use()
    {
        gate.EnterReadLock();
        if (!IsReleased) return new Lease(gate);
        gate.ExitReadLock();
        throw Released();
    }

    /// <exception cref="ObjectDisposedException">The transformer was released.</exception>
    public void ThrowIfReleased()
    {
        if (IsReleased) throw Released();
    }

    private ObjectDisposedException Released() => new(transformerName,
        $"This {transformerName} was released ({releaseCalls}): its native memory is freed, so it can no longer compute. " +
        "Fit or load the model again to use it.");

    /// <summary>A read lease on the native memory (see <see cref="Use"/>).</summary>
    public readonly struct Lease(ReaderWriterLockSlim gate) : IDisposable
    {
        /// <summary>Ends the lease.</summary>
        public void Dispose() => gate.ExitReadLock();
    }
}
