import CMicroHTTPD  // sys/epoll.h and sys/eventfd.h come through the shim
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Told by the server's loop that its descriptor is ready. Called on the loop thread only.
public protocol ServerLoopWatcher: AnyObject {
    func ready(readable: Bool, writable: Bool, hangUp: Bool)
}

/// Work held until the end of the loop's current round (`ServerLoop.atRoundEnd`). Called on the loop thread only.
public protocol ServerLoopRoundEnd: AnyObject {
    func roundEnded()
}

/// State that batches what a round's requests did, handed on before the round's answers go out and again at the
/// round's end (`ServerLoop.addFlusher`). Called on the loop thread only.
public protocol ServerLoopFlusher: AnyObject {
    func flush()
}

/// The server's loop thread, open to other descriptors: a client for upstream connections can do its socket work on
/// the thread that runs libmicrohttpd, so that a proxied request never changes threads (issue 7: the hops between
/// MHD's thread and an HTTP client's event loop cost more than the rest of the request).
///
/// `watch`, `change`, `unwatch`, `atRoundEnd`, `addFlusher`, `addTicker` and `whenEnded` are for the loop thread only (a
/// responder's `respond(to:through:)` runs there); `execute` and `wake` may be called from any thread.
/// `@unchecked Sendable` holds because `watchers`, `tickers`, `roundEnders` (both buffers), `flushers`, `now`, `settling`,
/// `wokenOnLoop` and the exchange counts are touched only on the loop thread, and the rest is atomics, a mutex and
/// descriptors fixed at creation.
public final class ServerLoop: @unchecked Sendable {
    /// The loop's epoll set: MHD's own epoll descriptor, the wake-up eventfd and the watched descriptors.
    let epoll: Int32
    private let wakeup: Int32
    private let thread = Atomic<UInt>(0)
    private let queued = Mutex([@Sendable () -> Void]())
    /// Set by `execute` after it queued, cleared by the loop before it takes the queue: a round with nothing queued,
    /// nearly every one, takes no lock (callgrind, issue 7).
    private let hasQueued = Atomic(false)

    // Loop thread only.
    /// Indexed by descriptor: a dictionary hashed the descriptor on every event (issue 7).
    private var watchers: [(any ServerLoopWatcher)?] = []
    /// Other objects' state on this loop (`attachment(for:)`), a few entries.
    private var attachments: [(key: Int, value: AnyObject)] = []
    private var tickers: [() -> Void] = []
    private var endings: [() -> Void] = []
    private var roundEnders: [any ServerLoopRoundEnd] = []
    /// `roundEnders`' second buffer: the two swap each round, so that running the held work allocates nothing.
    private var endingNow: [any ServerLoopRoundEnd] = []
    /// Boxed, so that `flush` can call them borrowed.
    private var flushers: [HeldFlusher] = []
    private var lastTick = ContinuousClock.now
    /// When the current round began, read once after the loop's wait: for deadlines and idle times, and the times of
    /// requests relayed on the loop, which need no better than a round's precision. A proxied request read the clock
    /// ten times; like nginx's cached time, one reading a round serves them (issue 7).
    public private(set) var now = ContinuousClock.now
    /// Set for an MHD round that follows a wait that brought nothing: exchanges parked for their answer suspend
    /// then, so that the loop can sleep (`Exchange.park`).
    var settling = false
    /// A wake-up asked for on the loop thread itself (`wake`), which writes none.
    private var wokenOnLoop = false
    /// Request IDs made on this loop, without a counter shared with the other loops (`RequestID.Source`). Loop
    /// thread only.
    public let requestIDs = RequestID.Source()
    /// Header lists' buffers kept for the next lists made on this loop (the requests', the upstream answers'). Loop
    /// thread only.
    public let headerSpares = HTTPHeaders.Spares()
    /// Exchanges that parked in the current MHD run: MHD's zero timeout comes from them alone when nothing else is
    /// busy, and the loop may then wait briefly for their answers (`DaemonLoop`).
    var parkedInRun = 0
    /// Exchanges that MHD may keep in its ready list with no event to come (a request body being read, a response
    /// stream being sent): while any exists, the loop never waits with MHD's work pending.
    var busyExchanges = 0

    init() {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeup = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        if wakeup >= 0 { _ = add(wakeup, EPOLLIN.rawValue) }
    }

    deinit {
        if epoll >= 0 { close(epoll) }
        if wakeup >= 0 { close(wakeup) }
    }

    var isUsable: Bool { epoll >= 0 && wakeup >= 0 }

    /// Whether the caller is on the loop thread.
    public var isCurrent: Bool { thread.load(ordering: .relaxed) == UInt(pthread_self()) }

    /// Runs `work` on the loop thread soon, in the order of the calls.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        queued.withLock { $0.append(work) }
        hasQueued.store(true, ordering: .releasing)
        wake()
    }

    /// Makes a waiting loop go round once. On the loop thread it writes nothing: the loop's next wait just does not
    /// block.
    public func wake() {
        guard wakeup >= 0 else { return }
        if isCurrent {
            wokenOnLoop = true
            return
        }
        var one: UInt64 = 1
        _ = write(wakeup, &one, 8)
    }

    /// Adds `fd` to the loop; `watcher` is held until `unwatch`. Returns false when epoll refused it.
    @discardableResult
    public func watch(_ fd: Int32, readable: Bool, writable: Bool, _ watcher: any ServerLoopWatcher) -> Bool {
        guard fd >= 0, add(fd, Self.mask(readable, writable)) else { return false }
        let index = Int(fd)
        if index >= watchers.count {
            watchers.append(contentsOf: repeatElement(nil, count: index + 1 - watchers.count))
        }
        watchers[index] = watcher
        return true
    }

    public func change(_ fd: Int32, readable: Bool, writable: Bool) {
        var event = epoll_event()
        event.events = Self.mask(readable, writable)
        event.data.fd = fd
        epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event)
    }

    /// Removes `fd` from the loop; call it before closing the descriptor.
    public func unwatch(_ fd: Int32) {
        epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nil)
        if fd >= 0 && Int(fd) < watchers.count { watchers[Int(fd)] = nil }
    }

    /// `work.roundEnded()` runs once this round's libmicrohttpd run is over. For writes that wake another process
    /// (a request to an upstream): made together after the round, they no longer hand the core to that process in
    /// the middle of the round's work (issue 7).
    public func atRoundEnd(_ work: any ServerLoopRoundEnd) {
        roundEnders.append(work)
    }

    /// `flusher.flush()` runs before each of this loop's libmicrohttpd runs, after each round and when the loop ends,
    /// for the loop's life. For per-loop state that gathers what requests did and hands it to shared objects in one
    /// go per round: where both loops wrote the same memory for every request, each write waited for the other
    /// core's copy of it (the request metrics, issue 7). Before the run, so that what the round's upstream answers
    /// recorded is out before libmicrohttpd sends them.
    public func addFlusher(_ flusher: any ServerLoopFlusher) {
        flushers.append(HeldFlusher(flusher))
    }

    /// The value attached to this loop for `key` (`attach`), if any; loop thread only. For per-loop state of objects
    /// shared by the loops, such as an upstream client's connection pool: found without a lock or a hash, where a
    /// locked dictionary cost both on every request (issue 7).
    public func attachment(for key: Int) -> AnyObject? {
        for entry in attachments where entry.key == key { return entry.value }
        return nil
    }

    /// Attaches `value` to this loop for `key` (from `makeAttachmentKey`) until the loop ends; loop thread only.
    public func attach(_ value: AnyObject, for key: Int) {
        attachments.append((key, value))
    }

    /// A key no other attachment has: unlike an object's identity, never reused after the object is gone.
    public static func makeAttachmentKey() -> Int {
        attachmentKeys.add(1, ordering: .relaxed).newValue
    }

    private static let attachmentKeys = Atomic(0)

    /// `tick` runs on the loop thread about every 250 ms (at most a second apart): for timeouts.
    public func addTicker(_ tick: @escaping () -> Void) {
        tickers.append(tick)
    }

    /// `handler` runs on the loop thread when the loop ends (the server stops): close what is watched.
    public func whenEnded(_ handler: @escaping () -> Void) {
        endings.append(handler)
    }

    // MARK: The loop's side (DaemonLoop)

    func enter() {
        thread.store(UInt(pthread_self()), ordering: .relaxed)
        now = .now
    }

    func leave() {
        let handlers = endings
        (endings, tickers) = ([], [])
        for handler in handlers { handler() }
        flush()
        flushers.removeAll()
        watchers.removeAll()
        attachments.removeAll()
        thread.store(0, ordering: .relaxed)
    }

    /// Hands a ready event to its watcher, or drains the wake-up eventfd.
    func dispatch(_ event: epoll_event) {
        if event.data.fd == wakeup {
            var count: UInt64 = 0
            _ = read(wakeup, &count, 8)
            return
        }
        let index = Int(event.data.fd)
        guard index >= 0, index < watchers.count, let watcher = watchers[index] else { return }
        let flags = event.events
        watcher.ready(
            readable: flags & EPOLLIN.rawValue != 0,
            writable: flags & EPOLLOUT.rawValue != 0,
            hangUp: flags & (EPOLLHUP.rawValue | EPOLLERR.rawValue | EPOLLRDHUP.rawValue) != 0
        )
    }

    /// The round begins: the loop's wait is over.
    func beginRound() {
        now = .now
    }

    /// Runs what other threads queued, and the tickers when their time has come.
    func runQueuedAndTickers() {
        // Cleared before the queue is taken: work queued before the exchange is in the queue by the time the lock is
        // (`execute` sets the flag after it appended), work queued after it sets the flag again for the next round.
        if hasQueued.load(ordering: .relaxed) && hasQueued.exchange(false, ordering: .acquiring) {
            let work = queued.withLock { queue in
                defer { queue.removeAll(keepingCapacity: true) }
                return queue
            }
            for item in work { item() }
        }
        guard !tickers.isEmpty, now - lastTick >= .milliseconds(250) else { return }
        lastTick = now
        for tick in tickers { tick() }
    }

    /// Runs the work held for the end of the round, including what that work holds in turn.
    func endRound() {
        while !roundEnders.isEmpty {
            swap(&roundEnders, &endingNow)
            // Moved out of the buffer, in the order they came: iterated in place, the buffer and each item were
            // retained and released around the call (callgrind, issue 7).
            endingNow.reverse()
            while let item = endingNow.popLast() { item.roundEnded() }
        }
    }

    /// Runs every flusher (`addFlusher`).
    func flush() {
        // Borrowed: the loop holds its flushers until `leave`, and a flusher added by another one's `flush` is only
        // appended. Copied out, each was retained and released for every call, twice a round (callgrind, issue 7).
        for index in flushers.indices {
            Unmanaged.passUnretained(flushers[index])._withUnsafeGuaranteedRef { $0.flusher.flush() }
        }
    }

    /// Whether `wake` was called on the loop thread since the last call: then the next wait must not block.
    func takeWakeOnLoop() -> Bool {
        defer { wokenOnLoop = false }
        return wokenOnLoop
    }

    /// The wait's upper bound while tickers exist.
    var tickInterval: Int32 { tickers.isEmpty ? 1000 : 250 }

    private func add(_ fd: Int32, _ mask: UInt32) -> Bool {
        var event = epoll_event()
        event.events = mask
        event.data.fd = fd
        return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0
    }

    private static func mask(_ readable: Bool, _ writable: Bool) -> UInt32 {
        (readable ? EPOLLIN.rawValue | EPOLLRDHUP.rawValue : 0) | (writable ? EPOLLOUT.rawValue : 0)
    }

    /// A flusher in a box of the loop's own: an existential has no `Unmanaged`, a class does (`flush`).
    private final class HeldFlusher {
        let flusher: any ServerLoopFlusher

        init(_ flusher: any ServerLoopFlusher) {
            self.flusher = flusher
        }
    }
}
