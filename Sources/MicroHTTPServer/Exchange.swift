import CMicroHTTPD
import Logging
import NIOCore
import Synchronization

/// One request/response exchange on one connection: the bridge between libmicrohttpd's callbacks (always on the MHD
/// thread) and the handler's task (anywhere).
///
/// The rules from MHD.md §2 live here: suspend only on the MHD thread, inside a callback, while holding `state`'s
/// lock; resume from any thread, only after clearing `suspended` under the lock, and only after unlocking.
/// `@unchecked Sendable` holds because the mutable fields outside `state` are touched only by the MHD thread
/// (`begun`, `queued`) or under the registry's lock (`registryLinks`), and everything shared goes through the `state`
/// mutex.
final class Exchange: @unchecked Sendable {
    let context: ServerContext
    let connection: OpaquePointer
    let target: String
    let state = Mutex(State())
    let deadline: ContinuousClock.Instant
    /// The connection's socket, read on the MHD thread at creation; the sweeper polls it while suspended.
    let socket: Int32

    /// Its place in the context's registry; under the registry's lock only.
    var registryLinks = RegistryLinks()

    // MHD thread only.
    private var begun = false
    private var queued = false
    /// The pool bytes this request's head takes (`ConnectionMemory`), known once it has begun.
    private var requestCost = 0
    /// The loop's rounds this exchange has waited for its response without suspending (`park`).
    private var parkedRounds = 0
    /// Parked, not suspended, since the last look under the lock: MHD's next call may only count a round (`handle`).
    private var parkedNow = false
    /// Set by what a parked exchange waits for (its response, an abort). Until then MHD's call on each of its rounds
    /// counts the round without taking the lock: at 64 connections a request waits about two rounds, and the look
    /// under the lock cost each round a few hundred instructions and two atomic operations (issue 7).
    let attention = Atomic<Bool>(false)
    /// Counted in the loop's `busyExchanges`: a request body, or a response stream (until completed).
    private var countedBusy = false
    /// Takes the body on this thread instead of a task's reader (`HTTPResponder.bodyReceiver`), until it ended.
    private var bodyReceiver: (any RequestBodyReceiver)?

    init(context: ServerContext, connection: OpaquePointer, target: String) {
        self.context = context
        self.connection = connection
        self.target = target
        self.deadline = context.loop.now + context.configuration.requestTimeout
        self.socket = cmhd_connection_fd(connection)
        context.requests.add(1, ordering: .relaxed)
    }

    struct State: ~Copyable {
        var suspended = false
        /// Waiting for the response without a suspend (`park`): a delivery from another thread wakes the loop.
        var parked = false
        var aborted = false
        var task: Task<Void, Never>?

        // Queues that allocate nothing while empty, and most exchanges queue nothing (NIO's CircularBuffer allocates
        // its storage up front, two allocations per request).
        var upload = ChunkQueue()
        var uploadBytes = 0
        /// Every body byte received so far, for the body limit.
        var uploadSeen = 0
        var uploadFinished = false
        /// The handler is done with the body: further upload bytes are read and dropped.
        var uploadDiscarded = false
        var uploadWaiter: UploadWaiter?

        var response: HTTPServerResponse?
        /// A response made in libmicrohttpd already (`deliver(prepared:)`), in place of `response`.
        var prepared: PreparedResponse?
        var down = ChunkQueue()
        var downBytes = 0
        var downFinished = false
        var downFailed = false
        /// The response writer's wait for room in `down` (the task's or an `HTTPResponseChannel`'s).
        var writableWaiter: (@Sendable () -> Void)?
        /// What a channel producer stops with when the exchange ends early.
        var cancelHandler: (@Sendable () -> Void)?
    }

    // MARK: MHD thread

    /// The access handler's work for this exchange: the first call carries the head, then body slices, then a
    /// final call with size 0 once the body is complete.
    func handle(
        method: UnsafePointer<CChar>,
        version: UnsafePointer<CChar>,
        data: UnsafePointer<CChar>?,
        size: UnsafeMutablePointer<Int>
    ) -> MHD_Result {
        if !begun {
            begun = true
            return begin(method: ConnectionBridge.string(method), version: ConnectionBridge.string(version))
        }
        if queued { return .YES }
        if parkedNow && !attention.load(ordering: .acquiring) && park() { return .YES }
        if size.pointee > 0 {
            let consumed = offerUpload(UnsafeRawBufferPointer(start: data, count: size.pointee))
            guard consumed >= 0 else { return .NO }
            size.pointee -= consumed
            return .YES
        }
        return finishUploadAndRespond()
    }

    private func begin(method: String, version: String) -> MHD_Result {
        if context.closed.load(ordering: .relaxed) {
            queued = true
            let refusal = HTTPServerResponse.jsonError(
                status: 503, code: "shutting_down", detail: "The server is shutting down.", requestID: RequestID.make())
            return ConnectionBridge.queue(refusal, on: connection, closing: true)
        }
        // On the loop's thread (an MHD callback): the list's buffer from the loop's spares.
        let headers = ConnectionBridge.requestHeaders(connection, spares: context.loop.headerSpares)
        let framing: RequestFraming
        switch RequestValidator.validate(
            method: method,
            target: target,
            headers: headers,
            maxHeaderBytes: context.configuration.maxHeaderBytes,
            maxBodyBytes: context.configuration.maxBodyBytes
        ) {
        case .failure(let rejection):
            queued = true
            return ConnectionBridge.queue(rejection.response, on: connection, closing: true)
        case .success(let value):
            framing = value
        }
        requestCost = ConnectionMemory.requestCost(headBytes: framing.headBytes, fields: headers.count, target: target)
        if framing.hasBody { countBusy() }
        let request = HTTPServerRequest(
            method: method,
            target: target,
            version: version,
            headers: headers,
            peer: ConnectionBridge.peer(connection),
            body: framing.hasBody ? RequestBody(source: self, declaredLength: framing.contentLength) : .empty
        )
        let responder = context.responder  // the loop's own box (`ResponderBox`)
        if framing.hasBody, let refusal = responder.refuseBody(of: request) {
            queued = true
            return ConnectionBridge.queue(refusal, on: connection, closing: true)
        }
        if framing.hasBody {
            context.registry.insert(self)
            // Taken on this thread, slice by slice: no task either.
            if let receiver = responder.bodyReceiver(for: request, through: HTTPResponseChannel(exchange: self)) {
                bodyReceiver = receiver
                return .YES
            }
        } else {
            var immediate = responder.respondImmediately(to: request)
            if case .stream = immediate?.body { immediate = nil }  // a stream needs a task to write it
            state.withLock { state in
                state.uploadFinished = true
                if let immediate {
                    state.response = immediate
                    state.downFinished = true
                }
            }
            // Answered on this thread: MHD's final call (next) queues it, with no task and no suspension.
            if immediate != nil { return .YES }
            context.registry.insert(self)
            // Answered through callbacks (e.g. an HTTP client's delegate): no task either.
            if responder.respond(to: request, through: HTTPResponseChannel(exchange: self)) { return .YES }
        }
        let task = Task { await self.run(responder, request) }
        let cancel = state.withLock { state in
            state.task = task
            return state.aborted
        }
        if cancel { task.cancel() }
        return .YES
    }

    /// Takes what fits in the bounded queue, or what the body's receiver takes; returns the bytes consumed, or -1 to
    /// drop the connection.
    private func offerUpload(_ bytes: UnsafeRawBufferPointer) -> Int {
        if let receiver = bodyReceiver { return offer(bytes, to: receiver) }
        let limit = context.configuration.maxBodyBytes
        let highWater = context.configuration.streamBufferBytes
        let (consumed, handOff): (Int, (UploadWaiter, ByteBuffer)?) = state.withLock {
            state in
            if state.aborted { return (-1, nil) }
            if state.uploadDiscarded { return (bytes.count, nil) }
            if state.suspended { return (0, nil) }  // MHD may call again right after we suspended (MHD.md §2.7)
            if state.uploadBytes >= highWater {
                suspend(&state)
                return (0, nil)
            }
            state.uploadSeen += bytes.count
            // A chunked body grew past the limit (a declared one was refused up front): drop the connection.
            if let limit, state.uploadSeen > limit { return (-1, nil) }
            if let waiter = state.uploadWaiter.take() { return (bytes.count, (waiter, ByteBuffer(bytes: bytes))) }
            state.uploadBytes += bytes.count
            // Slices are as large as MHD's read buffer (half the connection memory, 12 KiB by default). While the
            // reader lags they join the last queued chunk, up to 64 KiB, so the upstream gets fewer, larger writes.
            state.upload.append(bytes, joiningUpTo: 64 << 10)
            return (bytes.count, nil)
        }
        if let (waiter, chunk) = handOff { waiter.continuation.resume(returning: chunk) }
        return consumed
    }

    /// `offerUpload` to a receiver on this thread: what it leaves waits in MHD's buffer, the connection suspended
    /// until `resumeBody`.
    private func offer(_ bytes: UnsafeRawBufferPointer, to receiver: any RequestBodyReceiver) -> Int {
        let limit = context.configuration.maxBodyBytes
        enum Step { case drop, discard, wait, offer }
        let step = state.withLock { state -> Step in
            if state.aborted { return .drop }
            if state.uploadDiscarded { return .discard }  // an answer went already
            if state.suspended { return .wait }  // MHD may call again right after we suspended (MHD.md §2.7)
            // A chunked body grew past the limit (a declared one was refused up front): drop the connection.
            if let limit, state.uploadSeen + bytes.count > limit { return .drop }
            return .offer
        }
        switch step {
        case .drop: return -1
        case .discard: return bytes.count
        case .wait: return 0
        case .offer: break
        }
        let taken = receiver.bodyReceived(bytes)
        state.withLock { state in
            state.uploadSeen += taken
            // The receiver is full; an answer sent meanwhile discards the rest instead.
            if taken < bytes.count && !state.uploadDiscarded && !state.aborted { suspend(&state) }
        }
        return taken
    }

    /// The receiver has room again: MHD may go on reading the body.
    func resumeBody() {
        let resume = state.withLock { state in
            !state.uploadFinished && !state.aborted && !state.uploadDiscarded && state.clearSuspended()
        }
        if resume { resumeConnection() }
    }

    private func finishUploadAndRespond() -> MHD_Result {
        if let receiver = bodyReceiver.take() { receiver.bodyEnded(complete: true) }
        // The response leaves the lock through a captured optional, not inside the returned enum: an enum with a
        // response in it was copied and destroyed through value witnesses, ~900 instructions a request (callgrind).
        enum Next { case abort, wait, respond }
        var taken: HTTPServerResponse?
        var prepared: PreparedResponse?
        let (next, waiter): (Next, UploadWaiter?) = state.withLock { state in
            state.uploadFinished = true
            let waiter = state.upload.isEmpty ? state.uploadWaiter.take() : nil
            if state.aborted { return (.abort, waiter) }
            if state.suspended { return (.wait, waiter) }
            // Taken, not read: once MHD has copied the body, nothing here holds the bytes (an upstream connection's
            // read buffer can then be reused rather than reallocated).
            taken = state.response.take()
            prepared = state.prepared.take()
            guard taken != nil || prepared != nil else {
                state.parked = park()
                if !state.parked { suspend(&state) }
                parkedNow = state.parked
                return (.wait, waiter)
            }
            state.parked = false
            parkedNow = false
            return (.respond, waiter)
        }
        waiter?.continuation.resume(returning: nil)
        switch next {
        case .abort:
            return .NO
        case .wait:
            return .YES
        case .respond:
            queued = true
            if let prepared { return respond(prepared) }
            guard var response = taken.take(), let made = PreparedResponse.of(response, streamFrom: self) else {
                return .NO
            }
            // MHD has copied the fields: the list's buffer goes to the next list made on this loop.
            response.headers.giveBack(to: context.loop.headerSpares)
            return respond(made)
        }
    }

    /// `finishUploadAndRespond`'s queuing, once the pool's room for the response head is checked: libmicrohttpd would
    /// close the connection without a word; a stream left unread ends in `completed`.
    private func respond(_ prepared: PreparedResponse) -> MHD_Result {
        if prepared.isStream { countBusy() }
        let pool = context.configuration.effectiveConnectionMemory
        let headBytes = ConnectionMemory.responseHeadBytes(fieldBytes: prepared.fieldBytes)
        guard ConnectionMemory.fits(headBytes: headBytes, afterRequestCost: requestCost, poolBytes: pool) else {
            let requestID = prepared.requestID ?? RequestID.make()
            prepared.destroy()
            return ConnectionBridge.queue(
                .tooLargeForPool(headBytes: headBytes, poolBytes: pool, requestID: requestID), on: connection,
                closing: true)
        }
        return prepared.queue(on: connection, closing: context.stopping.load(ordering: .relaxed))
    }

    /// Call with `state` locked (MHD.md §2).
    private func suspend(_ state: inout State) {
        state.suspended = true
        MHD_suspend_connection(connection)
        context.suspensions.add(1, ordering: .relaxed)
    }

    /// Whether to wait for the response without suspending. libmicrohttpd calls the handler again on each of its
    /// rounds while the request is complete and no response is queued ("try again next time"), and keeps the
    /// connection in its epoll set: that costs less than a suspend and resume, five system calls (`epoll_ctl` out
    /// and in, the resume signal written and read, a read that finds nothing). The loop runs MHD without waiting
    /// while any connection is parked, so parking lasts while the loop has other work, at most `maxParkedRounds`.
    private func park() -> Bool {
        // The first wait always parks: MHD may have read this request after the loop's last look at its sockets.
        guard parkedRounds == 0 || (parkedRounds < Self.maxParkedRounds && !context.loop.settling) else {
            return false
        }
        parkedRounds += 1
        context.loop.parkedInRun += 1
        return true
    }

    private func countBusy() {
        guard !countedBusy else { return }
        countedBusy = true
        context.loop.busyExchanges += 1
    }

    /// Past this, a slow answer no longer costs a call per round, nor runs into libmicrohttpd's idle timeout.
    static let maxParkedRounds = 8

    /// The content reader: copies queued response bytes into MHD's buffer, or suspends until there are some.
    func read(into buffer: UnsafeMutableRawPointer, max: Int) -> Int {
        let lowWater = context.configuration.streamBufferBytes / 2
        let (result, writer): (Int, (@Sendable () -> Void)?) = state.withLock { state in
            if state.aborted { return (ConnectionBridge.endWithError, nil) }
            if state.down.isEmpty {
                if state.downFinished {
                    return (state.downFailed ? ConnectionBridge.endWithError : ConnectionBridge.endOfStream, nil)
                }
                suspend(&state)
                return (0, nil)
            }
            var copied = 0
            while copied < max, var chunk = state.down.first {
                let n = Swift.min(max - copied, chunk.readableBytes)
                chunk.withUnsafeReadableBytes { source in
                    (buffer + copied).copyMemory(from: source.baseAddress!, byteCount: n)
                }
                chunk.moveReaderIndex(forwardBy: n)
                copied += n
                if chunk.readableBytes == 0 {
                    _ = state.down.popFirst()
                } else {
                    state.down.replaceFirst(with: chunk)
                }
            }
            state.downBytes -= copied
            return (copied, state.downBytes <= lowWater ? state.writableWaiter.take() : nil)
        }
        writer?()
        return result
    }

    /// libmicrohttpd is done with this request, completely or not.
    func completed(ok: Bool) {
        context.registry.remove(self)
        if let receiver = bodyReceiver.take() { receiver.bodyEnded(complete: false) }
        if countedBusy {
            countedBusy = false
            context.loop.busyExchanges -= 1
        }
        let finished = state.withLock { state -> Bool in
            // A writer's callbacks may hold its producer, which holds this exchange: let go of them.
            if state.downFinished { (state.cancelHandler, state.writableWaiter) = (nil, nil) }
            return state.downFinished
        }
        // Done "OK" with the stream unfinished happens when MHD sends no body (HEAD, 204, 304): the writer must stop.
        if !ok || !finished { abort() }
        // A response prepared and never queued (the client left first): a stream's holds this exchange.
        state.withLock { $0.prepared.take() }?.destroy()
    }
}

/// The body reader's wait for upload bytes, boxed: `CheckedContinuation` is a resilient type, so every copy and
/// destroy of an optional one in `State` went through its value witnesses, about 900 instructions per request for
/// the many requests that never wait (callgrind, issue 7); an optional reference is a retain, or nothing when nil.
final class UploadWaiter: Sendable {
    let continuation: CheckedContinuation<ByteBuffer?, any Error>

    init(_ continuation: CheckedContinuation<ByteBuffer?, any Error>) {
        self.continuation = continuation
    }
}

extension Optional {
    /// Returns the wrapped value and leaves nil behind: moved out, not copied and then destroyed.
    mutating func take() -> Wrapped? {
        let value = consume self
        self = nil
        return value
    }
}
