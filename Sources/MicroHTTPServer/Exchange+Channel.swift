import NIOCore

// The writer's side of the response queue: an `HTTPResponseChannel`'s producer calls these directly, the task's
// `write` (Exchange+Handler.swift) awaits on top of them.
extension Exchange {
    enum Enqueued {
        /// Queued, and the queue has room for more.
        case room
        /// Queued, and the queue is at its high-water mark: wait with `whenWritable`.
        case full
        /// The exchange ended early (or its body did): the chunk is dropped.
        case gone
    }

    /// Queues a response body chunk.
    func enqueue(_ chunk: ByteBuffer) -> Enqueued {
        let highWater = context.configuration.streamBufferBytes
        let (resume, outcome) = state.withLock { state -> (Bool, Enqueued) in
            if state.aborted || state.downFinished { return (false, .gone) }
            guard chunk.readableBytes > 0 else { return (false, .room) }
            state.down.append(chunk)
            state.downBytes += chunk.readableBytes
            return (state.clearSuspended(), state.downBytes < highWater ? .room : .full)
        }
        if resume { resumeConnection() }
        return outcome
    }

    /// Calls `callback` once the queue is below its high-water mark (at once when it is), or when the exchange
    /// ends early.
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
