/// An ordered list of header fields, as they arrived; look-ups ignore case as HTTP says.
///
/// The fields are kept as bytes, every name and value in one buffer (one allocation), each followed by a NUL: a
/// request's headers go from libmicrohttpd to the upstream socket, and an answer's back, as copies of bytes, with no
/// String made and no reference counted per field (`forEachField`), and libmicrohttpd reads the NUL-terminated
/// bytes in place. As one String per name and value, the header loops made about a third of a proxied request's
/// retains (callgrind, issue 7). The String API below makes its Strings when asked.
///
/// `@unchecked Sendable` because of `FieldBytes`, a `ManagedBuffer`, which Swift marks as not Sendable: a buffer
/// changes only while one list holds it (`add` copies a shared one first), so a list sent elsewhere shares only
/// bytes that no one writes, as an `[UInt8]` would.
public struct HTTPHeaders: @unchecked Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public typealias Element = (name: String, value: String)

    /// The fields in the first `used` bytes, one record each: the name's and the value's byte counts (two
    /// `UInt32`s), the name, a NUL, the value, a NUL. One allocation for the whole list, shared by copies until one
    /// of them changes (`add` copies a shared buffer first). nil while empty.
    @usableFromInline var storage: FieldBytes?
    @usableFromInline var used = 0
    public private(set) var count = 0
    /// A bit for each name length present (lengths of 63 and more share the last bit); set when a field is added,
    /// recomputed when fields are removed. A look-up by name ends here when no name has its length: most look-ups
    /// are for fields a request does not have (`X-Request-Id`, `Content-Length`, a client key), and each walked
    /// the list (callgrind, issue 7).
    private var nameLengths: UInt64 = 0

    /// A record's bytes besides the name and the value.
    @usableFromInline static let recordOverhead = 10

    public init() {}

    public init(_ fields: [(String, String)]) {
        reserveCapacity(fields.count)
        for (name, value) in fields { add(name, value) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The bytes of every name and value, without separators or line ends.
    public var contentBytes: Int { used - Self.recordOverhead * count }

    public struct Iterator: IteratorProtocol {
        let headers: HTTPHeaders
        var offset = 0

        public mutating func next() -> Element? {
            guard offset < headers.used, let storage = headers.storage else { return nil }
            return storage.withBytes(headers.used) { bytes in
                let (name, value, next) = HTTPHeaders.record(bytes, at: offset)
                offset = next
                return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
            }
        }
    }

    public func makeIterator() -> Iterator { Iterator(headers: self) }

    /// The name and value of the record at `offset`, and where the next one starts.
    @inlinable @inline(__always)
    static func record(_ bytes: UnsafeRawBufferPointer, at offset: Int)
        -> (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, next: Int)
    {
        let nameCount = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        let valueCount = Int(bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
        let nameStart = offset + 8
        let valueStart = nameStart + nameCount + 1
        return (
            UnsafeRawBufferPointer(rebasing: bytes[nameStart..<nameStart + nameCount]),
            UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueStart + valueCount]),
            valueStart + valueCount + 1
        )
    }

    /// Calls `body` with each field's name and value bytes, in order. Each buffer is followed in memory by a NUL, so
    /// its base address is also a C string (of the field's length when the bytes hold no NUL themselves).
    @inlinable
    public func forEachField<E: Error>(
        _ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(E) -> Void
    ) throws(E) {
        // Array's withUnsafeBytes rethrows untyped errors: the typed one is carried out by hand.
        guard let storage else { return }
        var failure: E?
        storage.withBytes(used) { bytes in
            var offset = 0
            while offset < used {
                let (name, value, next) = Self.record(bytes, at: offset)
                do throws(E) {
                    try body(name, value)
                } catch {
                    failure = error
                    return
                }
                offset = next
            }
        }
        if let failure { throw failure }
    }

    /// The first value of the named field, or nil.
    public subscript(name: String) -> String? {
        var found: String?
        forFields(named: name) { value in
            found = String(decoding: value, as: UTF8.self)
            return false
        }
        return found
    }

    /// Every value of the named field, in order.
    public func values(_ name: String) -> [String] {
        var found: [String] = []
        forFields(named: name) { value in
            found.append(String(decoding: value, as: UTF8.self))
            return true
        }
        return found
    }

    public func contains(_ name: String) -> Bool {
        var found = false
        forFields(named: name) { _ in
            found = true
            return false
        }
        return found
    }

    /// Calls `body` with the bytes of each value of the named field, in order, without a String made; nothing to walk
    /// when no name has that length (`mayHaveName`). Inlinable, like `forEachField`, for the request path's header
    /// rules: called through `forFields`, it cost 200 instructions a request more (callgrind, issue 7).
    @inlinable
    public func forEachValue(named name: StaticString, _ body: (UnsafeRawBufferPointer) -> Void) {
        guard mayHaveName(ofCount: name.utf8CodeUnitCount) else { return }
        forEachField { fieldName, value in
            if Self.equalFold(fieldName, name) { body(value) }
        }
    }

    /// Whether a field's name may have `count` bytes: false means none has (`nameLengths`).
    public func mayHaveName(ofCount count: Int) -> Bool {
        nameLengths & Self.lengthBit(count) != 0
    }

    @inline(__always)
    private static func lengthBit(_ count: Int) -> UInt64 { 1 << UInt64(Swift.min(count, 63)) }

    /// Calls `body` with the value of each field named `name` while it returns true; nothing to walk when no name
    /// has that length (`mayHaveName`).
    private func forFields(named name: String, _ body: (UnsafeRawBufferPointer) -> Bool) {
        guard let storage, mayHaveName(ofCount: name.utf8.count) else { return }
        var name = name
        name.withUTF8 { wanted in
            storage.withBytes(used) { bytes in
                var offset = 0
                while offset < used {
                    let (fieldName, value, next) = Self.record(bytes, at: offset)
                    if Self.equalFold(fieldName, UnsafeRawBufferPointer(wanted)) && !body(value) { return }
                    offset = next
                }
            }
        }
    }

    /// Makes room for `count` fields (and, when known, their `bytes` of names and values).
    public mutating func reserveCapacity(_ count: Int, bytes: Int? = nil) {
        let capacity = used + (bytes ?? 32 * count) + Self.recordOverhead * count
        if capacity > storage?.header ?? 0 { grow(to: capacity) }
    }

    public mutating func add(_ name: String, _ value: String) {
        // Read in place when the bytes are contiguous (native and small Strings): `withUTF8` needs a mutable copy,
        // a retain and a release per String (callgrind, issue 7).
        let added: Bool? = name.utf8.withContiguousStorageIfAvailable { name in
            value.utf8.withContiguousStorageIfAvailable { value in
                add(UnsafeRawBufferPointer(name), UnsafeRawBufferPointer(value))
            } != nil
        }
        if added != true {
            var name = name
            var value = value
            name.withUTF8 { name in
                value.withUTF8 { value in add(UnsafeRawBufferPointer(name), UnsafeRawBufferPointer(value)) }
            }
        }
    }

    /// Adds a field from its bytes (copied).
    public mutating func add(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        let start = used
        let end = start + name.count + value.count + Self.recordOverhead
        let capacity = storage?.header ?? 0
        if end > capacity {
            grow(to: Swift.max(end, 2 * capacity))
        } else if !isKnownUniquelyReferenced(&storage) {
            grow(to: capacity)  // a copy shares the buffer: this one gets its own before it changes
        }
        // Copies, not Array's append(contentsOf:), which cost more than the rest of the header work (callgrind).
        storage!.withUnsafeMutablePointerToElements { bytes in
            let record = UnsafeMutableRawPointer(bytes + start)
            record.storeBytes(of: UInt32(truncatingIfNeeded: name.count), as: UInt32.self)
            record.storeBytes(of: UInt32(truncatingIfNeeded: value.count), toByteOffset: 4, as: UInt32.self)
            if let source = name.baseAddress { (record + 8).copyMemory(from: source, byteCount: name.count) }
            (record + 8 + name.count).storeBytes(of: 0, as: UInt8.self)
            if let source = value.baseAddress {
                (record + 9 + name.count).copyMemory(from: source, byteCount: value.count)
            }
            (record + 9 + name.count + value.count).storeBytes(of: 0, as: UInt8.self)
        }
        used = end
        count += 1
        nameLengths |= Self.lengthBit(name.count)
    }

    /// Gives this list a buffer of its own with room for at least `capacity` bytes, the fields copied over.
    private mutating func grow(to capacity: Int) {
        let grown = FieldBytes.make(capacity: capacity)
        if let storage, used > 0 {
            grown.withUnsafeMutablePointerToElements { target in
                storage.withUnsafeMutablePointerToElements { target.update(from: $0, count: used) }
            }
        }
        storage = grown
    }

    /// Replaces every field of that name by one with the given value.
    public mutating func replace(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    public mutating func remove(_ name: String) {
        var name = name
        name.withUTF8 { wanted in
            removeAll { fieldName, _ in Self.equalFold(fieldName, UnsafeRawBufferPointer(wanted)) }
        }
    }

    public mutating func removeAll(where shouldRemove: (Element) -> Bool) {
        removeAll { name, value in
            shouldRemove((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
    }

    /// Removes the fields whose name and value bytes `shouldRemove` picks, in place: the kept records move down over
    /// the removed ones, in their order, and the buffer stays (a list of its own first, when a copy shares it). The
    /// gateway filters every upstream answer's head this way: a second list per answer cost an allocation and a copy
    /// of every field (issue 7).
    public mutating func removeAll(where shouldRemove: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Bool) {
        guard let capacity = storage?.header, used > 0 else { return }
        if !isKnownUniquelyReferenced(&storage) { grow(to: capacity) }
        var kept = 0
        var keptCount = 0
        var keptLengths: UInt64 = 0
        storage!.withUnsafeMutablePointerToElements { base in
            let bytes = UnsafeRawBufferPointer(start: base, count: used)
            var offset = 0
            while offset < used {
                let (name, value, next) = Self.record(bytes, at: offset)
                if !shouldRemove(name, value) {
                    if kept != offset {  // a memmove: the two ranges may overlap
                        UnsafeMutableRawPointer(base + kept).copyMemory(from: base + offset, byteCount: next - offset)
                    }
                    kept += next - offset
                    keptCount += 1
                    keptLengths |= Self.lengthBit(name.count)
                }
                offset = next
            }
        }
        used = kept
        count = keptCount
        nameLengths = keptLengths
    }

    public var description: String {
        map { "\($0.name): \($0.value)" }.joined(separator: "\n")
    }

    /// ASCII case-insensitive comparison, which is what header names need (and much cheaper than lowercased()).
    @inlinable
    public static func equalFold(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a[i] != b[i] {
            if a[i] | 0x20 != b[i] | 0x20 { return false }
            let lower = a[i] | 0x20
            if lower < 0x61 || lower > 0x7A { return false }
        }
        return true
    }

    /// `equalFold` of bytes and a literal.
    @inlinable
    public static func equalFold(_ a: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        equalFold(a, UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Calls `body` with each comma-separated element of a list-valued field (`Connection`, `Content-Length`, ...)
    /// in `range` of `bytes`, trimmed of SP/HTAB; empty elements included. On bytes, for the hot paths that read
    /// these fields (the gateway's header rules, the upstream response parser).
    @inlinable
    public static func forEachListElement(
        _ bytes: UnsafeRawBufferPointer, in range: Range<Int>, _ body: (Range<Int>) -> Void
    ) {
        guard !range.isEmpty else { return }
        var start = range.lowerBound
        while start <= range.upperBound {
            var end = start
            while end < range.upperBound && bytes[end] != UInt8(ascii: ",") { end += 1 }
            var low = start
            var high = end
            while low < high && (bytes[low] == 0x20 || bytes[low] == 0x09) { low += 1 }
            while high > low && (bytes[high - 1] == 0x20 || bytes[high - 1] == 0x09) { high -= 1 }
            body(low..<high)
            start = end + 1
        }
    }
}

extension HTTPHeaders {
    /// Header lists' buffers given back to be used again, on one thread (a server loop's: `ServerLoop.headerSpares`).
    /// Each request's list was an allocation and a free (callgrind, issue 7); with the spares it takes a buffer the
    /// last request gave back. (The loop's relay reads an upstream answer's fields in place: no list.)
    ///
    /// `@unchecked Sendable` because it is used on its loop's thread only.
    public final class Spares: @unchecked Sendable {
        private var buffers: [FieldBytes] = []
        /// Buffers kept at most, and the largest kept: spares are for the common small heads, not for every list.
        static let maxCount = 64
        static let maxCapacity = 8 << 10
        /// The smallest buffer a list made from the spares gets, so that the next list most likely fits it.
        static let minCapacity = 1 << 10

        public init() {}

        var count: Int { buffers.count }

        /// A spare with room for `capacity` bytes, else a new buffer.
        func take(capacity: Int) -> FieldBytes {
            if let spare = buffers.popLast(), spare.header >= capacity { return spare }
            return FieldBytes.make(capacity: Swift.max(capacity, Self.minCapacity))
        }

        func give(_ buffer: consuming FieldBytes) {
            guard buffers.count < Self.maxCount, buffer.header <= Self.maxCapacity else { return }
            buffers.append(buffer)
        }
    }

    /// An empty list with room for `count` fields of `bytes` bytes of names and values, its buffer from `spares`
    /// when given, else a new one of that size (as `reserveCapacity` makes).
    public init(capacity count: Int, bytes: Int, from spares: Spares?) {
        let capacity = bytes + Self.recordOverhead * count
        storage = spares?.take(capacity: capacity) ?? FieldBytes.make(capacity: capacity)
    }

    /// Gives this list's buffer to `spares` when no other list shares it, and empties the list.
    public mutating func giveBack(to spares: Spares) {
        if isKnownUniquelyReferenced(&storage), let storage = storage.take() { spares.give(storage) }
        self = HTTPHeaders()
    }
}

/// The bytes of an `HTTPHeaders`, its capacity in the header. A class of its own rather than an `[UInt8]`: making an
/// array from another module looks up its generic type at run time, which cost more than the allocation itself (four
/// lists per proxied request; callgrind, issue 7).
@usableFromInline
final class FieldBytes: ManagedBuffer<Int, UInt8> {
    static func make(capacity: Int) -> FieldBytes {
        unsafeDowncast(create(minimumCapacity: capacity) { _ in capacity }, to: FieldBytes.self)
    }

    /// Calls `body` with the first `count` bytes.
    @inlinable
    func withBytes<R>(_ count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeMutablePointerToElements { try body(UnsafeRawBufferPointer(start: $0, count: count)) }
    }
}
