import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What every callback needs, reached through the `cls` pointer MHD hands back. Immutable apart from atomics and
/// the registry's mutex.
final class ServerContext: Sendable {
    /// The server's responder, called through a class (`ResponderBox`).
    let responder: any HTTPResponder & AnyObject
    let configuration: HTTPServer.Configuration
    let logger: Logger
    let registry = ExchangeRegistry()
    /// Set when shutdown begins: responses then carry `Connection: close`.
    let stopping = Atomic(false)
    /// Set when the drain time is over: requests that still arrive are refused with 503.
    let closed = Atomic(false)
    /// Requests begun on this loop (`IdleTrim`).
    let requests = Atomic(0)
    /// How often a connection was suspended (`HTTPServer.suspensionCount`).
    let suspensions = Atomic(0)
    /// The loop thread that runs MHD, open to other descriptors.
    let loop = ServerLoop()

    init(responder: any HTTPResponder, configuration: HTTPServer.Configuration, logger: Logger) {
        self.responder = boxed(responder)
        self.configuration = configuration
        self.logger = logger
    }
}

extension ServerContext {
    /// Makes the loop call MHD_run soon (it does anyway when this runs on the loop thread).
    func wakeLoop() {
        loop.wake()
    }
}

/// The exchanges whose handler has started and that MHD has not completed yet: a list through the exchanges
/// themselves (`Exchange.registryLinks`), so that joining and leaving it is a few stores under the lock, where a
/// dictionary hashed each exchange twice (issue 7). The links do not retain: MHD holds every exchange from its URI
/// callback to its completion, which leaves the list first.
final class ExchangeRegistry: Sendable {
    private struct List {
        unowned(unsafe) var first: Exchange?
    }

    private let list = Mutex(List())

    func insert(_ exchange: Exchange) {
        list.withLock { list in
            guard !exchange.registryLinks.joined else { return }
            exchange.registryLinks = .init(joined: true, previous: nil, next: list.first)
            list.first?.registryLinks.previous = exchange
            list.first = exchange
        }
    }

    func remove(_ exchange: Exchange) {
        list.withLock { list in
            let links = exchange.registryLinks
            guard links.joined else { return }
            if let previous = links.previous {
                previous.registryLinks.next = links.next
            } else {
                list.first = links.next
            }
            links.next?.registryLinks.previous = links.previous
            exchange.registryLinks = .init()
        }
    }

    /// Counted along the links (for the drain and the tests, not per request): a wrong link shows as a wrong count.
    var count: Int {
        var count = 0
        forEach { _ in count += 1 }
        return count
    }

    var all: [Exchange] {
        var exchanges: [Exchange] = []
        forEach { exchanges.append($0) }
        return exchanges
    }

    private func forEach(_ body: (Exchange) -> Void) {
        list.withLock { list in
            var next = list.first
            while let exchange = next {
                body(exchange)
                next = exchange.registryLinks.next
            }
        }
    }
}

/// An exchange's place in its `ExchangeRegistry`, read and written only under the registry's lock.
struct RegistryLinks {
    var joined = false
    unowned(unsafe) var previous: Exchange?
    unowned(unsafe) var next: Exchange?
}

/// A responder as a loop calls it: through a class of the loop's own. Called through an `any HTTPResponder` kept in
/// the context, the existential was copied for each call, and the copy retained the responder, which every loop
/// shares: a write to a line that both cores wrote, on every request (issue 7). A class instance is called on a
/// borrowed reference.
final class ResponderBox<Responder: HTTPResponder>: HTTPResponder {
    let responder: Responder

    init(_ responder: Responder) {
        self.responder = responder
    }

    func respond(to request: HTTPServerRequest) async throws -> HTTPServerResponse {
        try await responder.respond(to: request)
    }

    func respondImmediately(to request: HTTPServerRequest) -> HTTPServerResponse? {
        responder.respondImmediately(to: request)
    }

    func refuseBody(of request: HTTPServerRequest) -> HTTPServerResponse? {
        responder.refuseBody(of: request)
    }

    func respond(to request: HTTPServerRequest, through channel: HTTPResponseChannel) -> Bool {
        responder.respond(to: request, through: channel)
    }

    func bodyReceiver(for request: HTTPServerRequest, through channel: HTTPResponseChannel)
        -> (any RequestBodyReceiver)?
    {
        responder.bodyReceiver(for: request, through: channel)
    }
}

/// `responder` in a `ResponderBox` of its own type.
private func boxed<R: HTTPResponder>(_ responder: R) -> any HTTPResponder & AnyObject {
    ResponderBox(responder)
}
