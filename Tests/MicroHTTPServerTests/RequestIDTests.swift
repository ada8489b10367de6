import Testing

@testable import MicroHTTPServer

/// `RequestID.make`: 15 lowercase hex digits (short enough for a String stored inline), none repeated.
@Suite struct RequestIDTests {
    @Test func idsAreFifteenLowercaseHexDigits() {
        for _ in 0..<1000 {
            let id = RequestID.make()
            #expect(id.utf8.count == RequestID.digits)
            #expect(id.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) })
        }
    }

    /// The scrambled counter is a bijection modulo 2^60: consecutive counters never give the same ID, and they do
    /// not look consecutive either (ids are not meant to be guessed from one another).
    @Test func consecutiveIDsAreDistinctAndScattered() {
        let ids = (0..<200_000).map { _ in RequestID.make() }
        #expect(Set(ids).count == ids.count)
        let sharedPrefixes = zip(ids, ids.dropFirst()).filter { $0.prefix(8) == $1.prefix(8) }.count
        #expect(sharedPrefixes < 10)
    }

    /// A loop's source counts in a block of its own: its IDs have the same form, and none repeats one of another
    /// source's or of the shared counter's, whichever thread makes them.
    @Test func sourcesNeverRepeatEachOtherOrTheSharedCounter() async {
        let sources = [RequestID.Source(), RequestID.Source()]
        let made = await withTaskGroup(of: [String].self) { group in
            for source in sources {
                group.addTask { (0..<50_000).map { _ in source.next() } }
            }
            group.addTask { (0..<50_000).map { _ in RequestID.make() } }
            return await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(made.count == 150_000 && Set(made).count == made.count)
        #expect(made.allSatisfy { $0.utf8.count == RequestID.digits })
        #expect(made.allSatisfy { $0.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) } })
    }
}
