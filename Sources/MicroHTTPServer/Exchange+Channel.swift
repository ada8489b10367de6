import NIOCore

// The producer's side of an `HTTPResponseChannel`: like the task's `ResponseBodySink.write`, with callbacks.
extension Exchange {
    /// Queues a response body chunk; false when the queue is at its high-water mark.
    func enqueue(_ chunk: ByteBuffer) -> Bool {
        guard chunk.readableBytes > 0 else { return true }
        let highWater = context.configuration.streamBufferBytes
        let (resume, room) = state.withLock { state -> (Bool, Bool) in
            if state.aborted || state.downFinished { return (false, true) }
            state.down.append(chunk)
            state.downBytes += chunk.readableBytes
            return (state.clearSuspended(), state.downBytes < highWater)
        }
        if resume { resumeConnection() }
        return room
    }

    func whenWritable(_ callback: @escaping @Sendable () -> Void) {
        let highWater = context.configuration.streamBufferBytes
        let now = state.withLock { state -> Bool in
            if state.aborted || state.downBytes < highWater { return true }
            state.writableWaiter = callback
            return false
        }
        if now { callback() }
    }

    func onCancel(_ handler: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.aborted { return true }
            if state.downFinished { return false }  // over already: nothing left to stop
            state.cancelHandler = handler
            return false
        }
        if now { handler() }
    }
}
