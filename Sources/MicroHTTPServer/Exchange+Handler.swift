import CMicroHTTPD
import Logging
import NIOCore
import Synchronization

// The handler's side of an exchange: runs on the task, never on the MHD thread.
extension Exchange {
    func run(_ responder: any HTTPResponder, _ request: HTTPServerRequest) async {
        let response: HTTPServerResponse
        do {
            response = try await responder.respond(to: request)
        } catch {
            if isAborted { return }
            context.logger.error(
                "handler failed",
                metadata: ["http.error": "\(type(of: error))", "http.target": "\(request.path)"]
            )
            response = .jsonError(
                status: 500,
                code: "internal_error",
                detail: "The request could not be handled.",
                requestID: request.headers["X-Request-Id"] ?? RequestID.make()
            )
        }
        deliver(response)
        guard case .stream(_, let write) = response.body else { return }
        do {
            try await write(ResponseBodyWriter(sink: self))
            finishStream(failed: false)
        } catch {
            finishStream(failed: true)
        }
    }

    var isAborted: Bool { state.withLock { $0.aborted } }

    /// Hands the response head to the MHD thread; from now on unread upload bytes are dropped, since MHD can only
    /// send the response once the request is fully read.
    func deliver(_ response: consuming HTTPServerResponse) {
        let isStream = if case .stream = response.body { true } else { false }
        // Moved into the state, not copied: each copy retains the response's parts (issue 7).
        var delivered = Optional(response)
        _ = handOver(isStream: isStream, unlessAborted: false) { $0.response = delivered.take() }
    }

    /// `deliver` of a response made in libmicrohttpd already (`HTTPResponseChannel.send(status:body:_:)`); destroyed
    /// at once when the exchange has ended, since no one would take it.
    func deliver(prepared: PreparedResponse) {
        if !handOver(isStream: prepared.isStream, unlessAborted: true, { $0.prepared = prepared }) {
            prepared.destroy()
        }
    }

    /// `deliver`'s hand-over: `store` puts the response in the state, and the MHD thread is told.
    /// - Returns: false, with nothing stored, when `unlessAborted` and the exchange has ended.
    private func handOver(isStream: Bool, unlessAborted: Bool, _ store: (inout State) -> Void) -> Bool {
        let handed = state.withLock { state -> (resume: Bool, parked: Bool)? in
            if unlessAborted && state.aborted { return nil }
            store(&state)
            state.uploadDiscarded = true
            state.upload.removeAll()
            state.uploadBytes = 0
            if !isStream { state.downFinished = true }
            return (state.clearSuspended(), state.parked)
        }
        guard let (resume, parked) = handed else { return false }
        attention.store(true, ordering: .releasing)
        if resume {
            resumeConnection()
        } else if parked && !context.loop.isCurrent {
            context.wakeLoop()  // the loop may be waiting for this answer (`DaemonLoop.lingerMilliseconds`)
        }
        return true
    }

    func finishStream(failed: Bool) {
        let resume = state.withLock { state -> Bool in
            state.downFinished = true
            state.downFailed = failed
            return state.clearSuspended()
        }
        if resume { resumeConnection() }
    }

    /// Ends the exchange early (client gone, deadline, shutdown): waiters throw, the task is cancelled, and a
    /// suspended connection is resumed so that MHD closes it.
    func abort() {
        let (task, uploadWaiter, callbacks, resume) = state.withLock { state in
            if state.aborted {
                return (
                    Task<Void, Never>?.none, UploadWaiter?.none,
                    [@Sendable () -> Void](), false
                )
            }
            state.aborted = true
            attention.store(true, ordering: .releasing)
            let callbacks = [state.cancelHandler.take(), state.writableWaiter.take()].compactMap { $0 }
            return (state.task, state.uploadWaiter.take(), callbacks, state.clearSuspended())
        }
        uploadWaiter?.continuation.resume(throwing: HTTPServerError.clientGone)
        task?.cancel()
        for callback in callbacks { callback() }
        if resume { resumeConnection() }
    }
}

extension Exchange {
    /// Resumes the suspended connection and wakes the loop: with an external event loop, MHD's own resume signal
    /// does not reach our epoll set, so the loop would otherwise sleep until its next timeout.
    func resumeConnection() {
        MHD_resume_connection(connection)
        context.wakeLoop()
    }
}

extension Exchange.State {
    /// Clears `suspended` and says whether the caller must resume the connection (after unlocking).
    mutating func clearSuspended() -> Bool {
        defer { suspended = false }
        return suspended
    }
}

extension Exchange: RequestBodySource {
    func nextChunk() async throws -> ByteBuffer? {
        let lowWater = context.configuration.streamBufferBytes / 2
        enum Step { case chunk(ByteBuffer, resume: Bool), end, gone, wait }
        let step = state.withLock { state -> Step in
            if state.aborted { return .gone }
            if let chunk = state.upload.popFirst() {
                state.uploadBytes -= chunk.readableBytes
                return .chunk(chunk, resume: state.uploadBytes <= lowWater && state.clearSuspended())
            }
            if state.uploadFinished { return .end }
            return .wait
        }
        switch step {
        case .chunk(let chunk, let resume):
            if resume { resumeConnection() }
            return chunk
        case .end:
            return nil
        case .gone:
            throw HTTPServerError.clientGone
        case .wait:
            break
        }
        return try await withCheckedThrowingContinuation { continuation in
            let (result, resume) = state.withLock { state -> (Result<ByteBuffer?, any Error>?, Bool) in
                if state.aborted { return (.failure(HTTPServerError.clientGone), false) }
                if let chunk = state.upload.popFirst() {
                    state.uploadBytes -= chunk.readableBytes
                    return (.success(chunk), state.clearSuspended())
                }
                if state.uploadFinished { return (.success(nil), false) }
                state.uploadWaiter = UploadWaiter(continuation)
                // The queue is empty: if MHD paused for space, it can go on.
                return (nil, state.clearSuspended())
            }
            if resume { resumeConnection() }
            if let result { continuation.resume(with: result) }
        }
    }
}

// The task's writer: the same queue and wait as an `HTTPResponseChannel`'s producer (Exchange+Channel.swift).
extension Exchange: ResponseBodySink {
    func write(_ buffer: ByteBuffer) async throws {
        switch enqueue(buffer) {
        case .room: return
        case .gone: throw HTTPServerError.clientGone
        case .full: break
        }
        await withCheckedContinuation { continuation in whenWritable { continuation.resume() } }
        if state.withLock({ $0.aborted }) { throw HTTPServerError.clientGone }
    }
}
