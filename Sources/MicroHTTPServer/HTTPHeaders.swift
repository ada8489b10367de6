/// An ordered list of header fields, as they arrived; look-ups ignore case as HTTP says.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public typealias Element = (name: String, value: String)

    @usableFromInline var fields: [Element]

    public init() { fields = [] }

    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[Element]> { fields.makeIterator() }

    /// The first value of the named field, or nil.
    public subscript(name: String) -> String? {
        for field in fields where field.name.utf8.count == name.utf8.count && Self.equalFold(field.name, name) {
            return field.value
        }
        return nil
    }

    /// Every value of the named field, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { Self.equalFold($0.name, name) }.map(\.value)
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    public mutating func reserveCapacity(_ count: Int) {
        fields.reserveCapacity(count)
    }

    public mutating func add(_ name: String, _ value: String) {
        fields.append((name: name, value: value))
    }

    /// Replaces every field of that name by one with the given value.
    public mutating func replace(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    public mutating func remove(_ name: String) {
        fields.removeAll { Self.equalFold($0.name, name) }
    }

    public mutating func removeAll(where shouldRemove: (Element) -> Bool) {
        fields.removeAll(where: shouldRemove)
    }

    public var description: String {
        fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
    }

    /// ASCII case-insensitive comparison, which is what header names need (and much cheaper than lowercased()).
    @inlinable
    public static func equalFold(_ a: String, _ b: String) -> Bool {
        // Most names differ in length: an O(1) answer before the bytes are reached (callgrind, issue 7).
        guard a.utf8.count == b.utf8.count else { return false }
        var a = a
        var b = b
        return a.withUTF8 { ua in
            b.withUTF8 { ub in
                guard ua.count == ub.count else { return false }
                for i in 0..<ua.count where ua[i] != ub[i] {
                    if ua[i] | 0x20 != ub[i] | 0x20 { return false }
                    let lower = ua[i] | 0x20
                    if lower < 0x61 || lower > 0x7A { return false }
                }
                return true
            }
        }
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
